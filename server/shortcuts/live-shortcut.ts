import type { PairEndpoints, ShortcutFailureReason } from './shortcut-backoff.js';

/** How long a rate reported by an end counts; past it the shortcut reads idle (0 bit/s). */
const RATE_FRESH_MS = 3_000;

/** What one end last reported of its shortcut tunnel. */
interface EndReport {
  readonly state: 'up' | 'down';
  /** Inner bytes received and sent through the tunnel since it was made. */
  readonly bytes: number;
  readonly at: number;
  /** The rate between this report and the one before (bits/s). */
  readonly bitsPerSecond: number;
}

/** What a report changed about the shortcut. */
export type ReportOutcome = 'verified' | 'lost' | null;

/**
 * One shortcut this hub keeps, as its two ends report it: not routed until both said `up` (keepalives
 * answered both ways), failed when an end says `down` once routed or nothing works by `deadline`;
 * its last activity and rate come from the ends' byte counters. Only the shortcut keeper changes it.
 */
export class LiveShortcut {
  /** Both ends reported their tunnel up: the members route through it. */
  routed = false;
  verifiedAt: number | null = null;
  /** Why it stopped working, or null. */
  failed: ShortcutFailureReason | null = null;
  /** When traffic last crossed it (ms); its creation until then. */
  lastActiveAt: number;
  /** When `lastActiveAt` was last written to the registry. */
  touchedAt: number;
  /** When the hub last aimed it at an end's new endpoint, or null. */
  movedAt: number | null = null;
  private readonly reports: [EndReport | null, EndReport | null] = [null, null];

  constructor(
    readonly linkId: number,
    readonly ends: readonly [string, string],
    readonly createdAt: number,
    /** It must be verified by then, or it fails. */
    public deadline: number,
    /** The ends' endpoints its path was punched for. */
    public endpoints: PairEndpoints,
    lastActiveAt: number = createdAt,
  ) {
    this.lastActiveAt = lastActiveAt;
    this.touchedAt = lastActiveAt;
  }

  /** The end's state as last reported, or null before its first report. */
  stateOf(end: 0 | 1): 'up' | 'down' | null {
    return this.reports[end]?.state ?? null;
  }

  /**
   * Takes one end's report: bytes that grew mark activity and give the rate; both ends up verifies
   * a shortcut that is not routed yet; `down` on a routed one loses it (`unanswered`).
   */
  report(end: 0 | 1, state: 'up' | 'down', bytes: number, now: number): ReportOutcome {
    const previous = this.reports[end];
    const moved = previous !== null && bytes > previous.bytes ? bytes - previous.bytes : 0;
    const ms = previous === null ? 0 : now - previous.at;
    if (moved > 0) this.lastActiveAt = Math.max(this.lastActiveAt, now);
    this.reports[end] = { state, bytes, at: now, bitsPerSecond: moved > 0 && ms > 0 ? (moved * 8000) / ms : 0 };
    if (this.failed !== null) return null;
    if (this.routed && state === 'down') {
      this.failed = 'unanswered';
      return 'lost';
    }
    if (!this.routed && this.reports[0]?.state === 'up' && this.reports[1]?.state === 'up') {
      this.routed = true;
      this.verifiedAt = now;
      return 'verified';
    }
    return null;
  }

  /**
   * An end moved and a tunnel went down on the way: not routed again until both ends report it up
   * anew (their next reports), by `deadline`, or it fails.
   */
  verifyAgain(deadline: number): void {
    this.routed = false;
    this.verifiedAt = null;
    this.failed = null;
    this.deadline = deadline;
    this.reports[0] = this.reports[0] && { ...this.reports[0], state: 'down' };
    this.reports[1] = this.reports[1] && { ...this.reports[1], state: 'down' };
  }

  /** Its traffic now (bits/s): the busier end's last rate, 0 once no end reported for a while. */
  bitsPerSecond(now: number): number {
    let rate = 0;
    for (const report of this.reports) {
      if (report !== null && now - report.at <= RATE_FRESH_MS) rate = Math.max(rate, report.bitsPerSecond);
    }
    return rate;
  }

  /** True when the ends have not both said `up` by the deadline. */
  overdue(now: number): boolean {
    return !this.routed && this.failed === null && now >= this.deadline;
  }
}
