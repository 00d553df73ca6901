import type { Encapsulation } from '../../shared/net/encapsulation.js';
import { describeLinkSubnet } from '../../shared/net/link-subnet.js';
import type { WireLinkTable } from '../../shared/protocol/tunnel-spec-schema.js';
import { tunnelMtu } from '../../shared/wire/tunnel-overhead.js';

/** The path MTU a table assumes: Ethernet, the usual case for a member's uplink. */
const PATH_MTU = 1500;

/** The /30 table of one link, as `tunnel-hub peer table --json` prints it and the wire carries it. */
export type LinkTable = WireLinkTable;

/** What the registry knows about a link, enough to build its table. */
export interface LinkTableFacts {
  readonly network: number;
  readonly greKey: number;
  /** GRE without a key (`peer add|set --no-key`): the hub tells the link apart by source address. */
  readonly keyless?: boolean;
  /** The hub's automatic choice for the link (server/registry/link-path-store), beneath any pin. */
  readonly decidedEncap?: Encapsulation | null;
  readonly ends: readonly [LinkEndFacts, LinkEndFacts];
}

/** One end of a link: its name, last known public address and pinned encapsulation. */
export interface LinkEndFacts {
  readonly name: string;
  readonly public: string | null;
  readonly pinnedEncap: Encapsulation | null;
}

/**
 * Builds a link's table. The encapsulation is the first end's pinned one, else the second's,
 * else the hub's automatic choice, else GRE. The GRE key is carried only on GRE links (UDP paths are told apart by port), and the
 * MTU counts it: keyed GRE on a 1500-byte path gives 1472, not plain GRE's 1476. FOU carries
 * GRE-in-UDP and GUE carries IPIP, as the datapath does (both 1468).
 */
export function buildLinkTable(facts: LinkTableFacts): LinkTable {
  const [first, second] = facts.ends;
  const subnet = describeLinkSubnet(facts.network);
  return {
    prefix: subnet.prefix,
    ...linkEncapFields(first.pinnedEncap ?? second.pinnedEncap ?? facts.decidedEncap ?? 'gre', facts.greKey, facts.keyless === true),
    ends: [
      { name: first.name, public: first.public, inner: subnet.firstEnd },
      { name: second.name, public: second.public, inner: subnet.secondEnd },
    ],
  };
}

/** What a link's encapsulation decides in its table: the GRE key it carries (or null) and the MTU. */
export function linkEncapFields(encap: Encapsulation, greKey: number, keyless: boolean): Pick<LinkTable, 'encap' | 'key' | 'mtu'> {
  const key = (encap === 'gre' || encap === 'gretap') && !keyless ? greKey : null;
  return { encap, key, mtu: tunnelMtu(PATH_MTU, { encap, inner: encap === 'gue' ? 'ipip' : 'gre', key: key !== null }) };
}
