/** One hub a member may be served by, as its config lists the cluster. */
export interface CandidateHub {
  readonly name: string;
}

/** What the member knows when its hub does not answer. */
export interface HubFailoverFacts<H extends CandidateHub> {
  /** The cluster's hubs from the last config (empty for a hub that runs alone). */
  readonly hubs: readonly H[];
  /** The hub the member is on, or aims at. */
  readonly current: string | undefined;
  /** Connection attempts in a row that could not reach `current` (refusals it answered do not count). */
  readonly unreachable: number;
}

/** Failed attempts in a row after which a member leaves its hub: two, so one lost SYN is no verdict. */
export const FAILOVER_AFTER = 2;

/**
 * Which hub to try next. A member stays on its hub until FAILOVER_AFTER attempts in a row could
 * not reach it; then it takes the next hub in the list's name order after the current one,
 * wrapping around, so repeated failures visit every hub in turn. A hub that answers with a
 * refusal (registry down, credentials) is reachable: moving would not help. With no other hub to
 * go to, the member stays and keeps retrying.
 */
export function chooseHub<H extends CandidateHub>(facts: HubFailoverFacts<H>): { hub: H | undefined; moved: boolean } {
  const ordered = [...facts.hubs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const at = ordered.findIndex((hub) => hub.name === facts.current);
  const current = at >= 0 ? ordered[at] : undefined;
  if (facts.unreachable < FAILOVER_AFTER) return { hub: current, moved: false };
  const others = ordered.filter((hub) => hub.name !== facts.current);
  if (others.length === 0) return { hub: current, moved: false };
  // The first hub after the current one in name order, wrapping round.
  const next = others.find((hub) => facts.current === undefined || hub.name > facts.current) ?? others[0];
  return { hub: next, moved: true };
}
