import type { Encapsulation } from '../../shared/net/encapsulation.js';
import { describeLinkSubnet } from '../../shared/net/link-subnet.js';
import type { EspPath, WireLinkTable } from '../../shared/protocol/tunnel-spec-schema.js';
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
  /** How the hub last carried the link's ESP, or null/absent for a link in the clear. */
  readonly decidedEsp?: EspPath | null;
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
 * GRE-in-UDP and GUE carries IPIP, as the datapath does (both 1468). An encrypted link carries
 * GRE (or IPIP, or gretap) inside ESP, raw or in UDP: its MTU counts the ESP header, IV, padding,
 * trailer and ICV (1438 for keyed GRE in raw ESP on a 1500-byte path, 1430 in UDP).
 */
export function buildLinkTable(facts: LinkTableFacts): LinkTable {
  const [first, second] = facts.ends;
  const subnet = describeLinkSubnet(facts.network);
  return {
    prefix: subnet.prefix,
    ...linkEncapFields(first.pinnedEncap ?? second.pinnedEncap ?? facts.decidedEncap ?? 'gre', facts.greKey, facts.keyless === true, facts.decidedEsp ?? null),
    ends: [
      { name: first.name, public: first.public, inner: subnet.firstEnd },
      { name: second.name, public: second.public, inner: subnet.secondEnd },
    ],
  };
}

/**
 * What a link's encapsulation decides in its table: the GRE key it carries (or null) and the MTU;
 * with `esp`, the encapsulation ESP carries instead of a UDP one (espCarried) and `esp` itself.
 */
export function linkEncapFields(encap: Encapsulation, greKey: number, keyless: boolean, esp: EspPath | null = null): Pick<LinkTable, 'encap' | 'key' | 'mtu' | 'esp'> {
  if (esp !== null) {
    const carried = espCarried(encap);
    const key = carried !== 'ipip' && !keyless ? greKey : null;
    return { encap: carried, key, mtu: encryptedMtu(PATH_MTU, carried, key !== null, esp), esp };
  }
  const key = (encap === 'gre' || encap === 'gretap') && !keyless ? greKey : null;
  return { encap, key, mtu: tunnelMtu(PATH_MTU, { encap, inner: encap === 'gue' ? 'ipip' : 'gre', key: key !== null }) };
}

/**
 * What ESP carries for a link of `encap`: GRE, IPIP and gretap as they are; a UDP encapsulation's
 * inner protocol (FOU's GRE, GUE's IPIP), since ESP in UDP already crosses the NAT FOU and GUE were for.
 */
export function espCarried(encap: Encapsulation): 'gre' | 'ipip' | 'gretap' {
  if (encap === 'fou') return 'gre';
  if (encap === 'gue') return 'ipip';
  return encap;
}

/** ESP's fixed bytes: SPI 4, sequence number 4, explicit IV 8, and after the payload pad length 1, next header 1, ICV 16. */
const ESP_FIXED = { header: 16, trailer: 18 } as const;

/**
 * The inner MTU of an encrypted link over a path of `pathMtu` bytes (IPv4 outer): the outer
 * packet's payload (GRE header or nothing, plus the inner packet, plus gretap's Ethernet header)
 * is padded with its two trailer bytes to a multiple of 4 (RFC 4303 §2.4), so the largest
 * payload that fits is rounded down to that.
 */
function encryptedMtu(pathMtu: number, carried: 'gre' | 'ipip' | 'gretap', key: boolean, esp: EspPath): number {
  const room = pathMtu - 20 - (esp === 'udp' ? 8 : 0) - ESP_FIXED.header - (ESP_FIXED.trailer - 2);
  const payload = Math.floor(room / 4) * 4 - 2;
  const inner = carried === 'ipip' ? 0 : 4 + (key ? 4 : 0) + (carried === 'gretap' ? 14 : 0);
  return payload - inner;
}
