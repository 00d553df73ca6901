import { isIPv6 } from 'node:net';
import type { Encapsulation } from '../../shared/net/encapsulation.js';
import type { EspPath } from '../../shared/protocol/index.js';
import { espCarried } from '../registry/link-table.js';

/** Why a link runs the encapsulation it runs; shown as `encapReason` in both status commands. */
export type EncapReason =
  | 'pinned'
  | 'public'
  | 'nat-detected'
  | 'gre-probe-unanswered'
  | 'fou-unanswered'
  | 'ipv6-unanswered';

/** What a path probe found: true answered, false unanswered, undefined not tried (yet). */
export interface ProbeResults {
  gre?: boolean;
  fou?: boolean;
  gue?: boolean;
}

/** Everything the choice depends on, for one member's path to the hub. */
export interface EncapFacts {
  /** The operator's pin (`tunnel-hub peer pin NAME --encap …`), or null for automatic. */
  pinned: Encapsulation | null;
  /**
   * The address the member's authenticated control connection comes from. Its family is the
   * outer path's: a member with a working global IPv6 path connects over IPv6 (see the client's
   * session runner), and the link then runs over IPv6.
   */
  seen: string | null;
  /** The address the member says it has (null when it did not say). */
  reported: string | null;
  /** What the member's probes found on this path (they start over when the address changes). */
  probes: ProbeResults;
  /** The link is encrypted (server/control/link-encryption.ts): ESP carries it. */
  encrypted?: boolean;
}

/** The choice and its reason. */
export interface EncapChoice {
  encap: Encapsulation;
  reason: EncapReason;
  /** On an encrypted link: raw ESP (protocol 50) or ESP in UDP (RFC 3948); absent in the clear. */
  esp?: EspPath;
}

/**
 * The fallback ladder GRE -> FOU -> GUE, on the family of the seen address. A pin wins. A member
 * whose claimed address differs from the seen one is behind a NAT, which cannot pass GRE (no
 * ports to tell tunnels apart): FOU at once, without a GRE probe. An answered probe changes no
 * reason (status shows probes apart), so confirming a path issues no new spec version. A public
 * member keeps GRE unless its GRE probe went unanswered. FOU unanswered (a middlebox that mangles
 * GRE-in-UDP) falls back to GUE, the last rung. Over IPv6 a last rung unanswered as well reads
 * `ipv6-unanswered`: the member then connects over IPv4 and the ladder starts again there.
 */
export function chooseEncapsulation(facts: EncapFacts): EncapChoice {
  if (facts.encrypted === true) return chooseEncryptedPath(facts);
  if (facts.pinned !== null) return { encap: facts.pinned, reason: 'pinned' };
  const natted = facts.seen !== null && facts.reported !== null && facts.seen !== facts.reported;
  if (!natted && facts.probes.gre !== false) {
    return { encap: 'gre', reason: 'public' };
  }
  if (facts.probes.fou === false) {
    const ipv6 = facts.seen !== null && isIPv6(facts.seen);
    return { encap: 'gue', reason: ipv6 && facts.probes.gue === false ? 'ipv6-unanswered' : 'fou-unanswered' };
  }
  return { encap: 'fou', reason: natted ? 'nat-detected' : 'gre-probe-unanswered' };
}

/**
 * The ladder of an encrypted link, where ESP carries GRE (or what a pin names: IPIP, gretap; a
 * pinned FOU or GUE becomes its inner GRE or IPIP in ESP in UDP). Raw ESP on a public path; ESP
 * in UDP where a NAT stands (it cannot pass protocol 50 for more than one host, and the member's
 * mapping must be learnt from its hellos) or where the GRE-in-ESP probe went unanswered (a
 * firewall that drops protocol 50). ESP in UDP is the last rung: it crosses what FOU and GUE cross.
 */
function chooseEncryptedPath(facts: EncapFacts): EncapChoice {
  const natted = facts.seen !== null && facts.reported !== null && facts.seen !== facts.reported;
  const udpPinned = facts.pinned === 'fou' || facts.pinned === 'gue';
  const esp: EspPath = natted || udpPinned || facts.probes.gre === false ? 'udp' : 'raw';
  if (facts.pinned !== null) return { encap: espCarried(facts.pinned), reason: 'pinned', esp };
  return { encap: 'gre', reason: natted ? 'nat-detected' : esp === 'udp' ? 'gre-probe-unanswered' : 'public', esp };
}
