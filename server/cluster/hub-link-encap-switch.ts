import type { HubLinkEncap } from '../registry/hub-link-store.js';

/** What one hub sees of one of its hub<->hub links when it decides whether to switch it. */
export interface HubLinkWatch {
  /** What the registry says the link runs, and what this hub laid out. */
  readonly encap: HubLinkEncap;
  readonly pinned: boolean;
  /** The tunnel's liveness now; null when it tracks none (keepalives off) or does not run. */
  readonly liveness: 'up' | 'down' | null;
  /**
   * Since when (ms) the link has gone unanswered at the latest: when this hub laid it out in this
   * encapsulation, when the other hub (re)started, or when the link was last seen up.
   */
  readonly quietSince: number;
  readonly now: number;
  /**
   * The other hub serves and wrote a heartbeat since the link went quiet: silence is then the
   * path's doing, not a dead hub's.
   */
  readonly otherHubUp: boolean;
  /** Seconds between keepalives, and how many may go unanswered before the tunnel reads down. */
  readonly keepaliveInterval: number;
  readonly keepaliveRetries: number;
}

/** A switch of a hub link to `to`, for `reason` (`gre-unanswered` or `fou-unanswered`). */
export interface HubLinkSwitch {
  readonly from: HubLinkEncap;
  readonly to: HubLinkEncap;
  readonly reason: string;
}

/**
 * Whether a hub link should move to the other encapsulation: only when it is not pinned, its
 * keepalives have gone unanswered for `keepaliveRetries` × `keepaliveInterval` since it was laid
 * out or last up, and the other hub is alive. A working link never moves; a dead hub's link stays
 * as it is; a pair where both go unanswered alternates, once per such period.
 */
export function hubLinkSwitch(watch: HubLinkWatch): HubLinkSwitch | null {
  if (watch.pinned || watch.liveness !== 'down' || !watch.otherHubUp || watch.keepaliveInterval <= 0) return null;
  if (watch.now - watch.quietSince < watch.keepaliveRetries * watch.keepaliveInterval * 1000) return null;
  return { from: watch.encap, to: watch.encap === 'gre' ? 'fou' : 'gre', reason: `${watch.encap}-unanswered` };
}
