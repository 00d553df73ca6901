import type { Encapsulation } from '../../shared/net/encapsulation.js';

/** Why a link runs the encapsulation it runs; shown as `encapReason` in both status commands. */
export type EncapReason =
  | 'pinned'
  | 'public'
  | 'nat-detected'
  | 'gre-probe-unanswered'
  | 'fou-unanswered';

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
  /** The address the member's authenticated control connection comes from. */
  seen: string | null;
  /** The address the member says it has (null when it did not say). */
  reported: string | null;
  probes: ProbeResults;
}

/** The choice and its reason. */
export interface EncapChoice {
  encap: Encapsulation;
  reason: EncapReason;
}

/**
 * The fallback ladder GRE -> FOU -> GUE. A pin wins. A member whose claimed address differs from
 * the seen one is behind a NAT, which cannot pass GRE (no ports to tell tunnels apart): FOU at
 * once, without a GRE probe. An answered probe changes no reason (status shows probes apart), so
 * confirming a path issues no new spec version. A public member keeps GRE unless its GRE probe went unanswered.
 * FOU unanswered (a middlebox that mangles GRE-in-UDP) falls back to GUE, the last rung.
 */
export function chooseEncapsulation(facts: EncapFacts): EncapChoice {
  if (facts.pinned !== null) return { encap: facts.pinned, reason: 'pinned' };
  const natted = facts.seen !== null && facts.reported !== null && facts.seen !== facts.reported;
  if (!natted && facts.probes.gre !== false) {
    return { encap: 'gre', reason: 'public' };
  }
  if (facts.probes.fou === false) return { encap: 'gue', reason: 'fou-unanswered' };
  return { encap: 'fou', reason: natted ? 'nat-detected' : 'gre-probe-unanswered' };
}
