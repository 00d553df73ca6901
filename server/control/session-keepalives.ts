import { KeepaliveWheel } from '../../shared/datapath/keepalive-wheel.js';

/** Timing of one session; tests shorten both. */
export interface SessionTiming {
  /** How often each side sends a keepalive. */
  keepaliveMs: number;
  /** Silence after which the session is declared dead (a few keepalive intervals). */
  livenessMs: number;
}

/** Something the clock turns: it does what fell due and says when it wants its next turn. */
export interface KeepaliveTurn {
  /** Runs at (or a tick after) the time asked for; returns ms until the next turn, or null for none. */
  keepaliveTurn(now: number): number | null;
}

/**
 * The keepalives and liveness deadlines of every control session of a hub on one timer wheel,
 * instead of an interval and a timeout per session that every message re-arms. Sessions due in
 * the same tick send together, so a hub of 10,000 idle members wakes about once a second for its
 * keepalives rather than a thousand times, and a message received only stamps the time.
 */
export class SessionKeepalives {
  readonly #wheel: KeepaliveWheel<KeepaliveTurn>;

  constructor(readonly timing: SessionTiming) {
    this.#wheel = new KeepaliveWheel((due) => this.#turn(due), tickMsFor(timing.keepaliveMs));
  }

  /** Gives `item` a turn `delayMs` from now (rounded up to the next tick), instead of when it had one. */
  schedule(item: KeepaliveTurn, delayMs: number): void {
    this.#wheel.schedule(item, delayMs);
  }

  /** `item` gets no more turns. */
  cancel(item: KeepaliveTurn): void {
    this.#wheel.cancel(item);
  }

  #turn(due: KeepaliveTurn[]): void {
    const now = Date.now();
    for (const item of due) {
      const next = item.keepaliveTurn(now);
      if (next !== null) this.#wheel.schedule(item, next);
    }
  }
}

/** A tenth of the keepalive interval, between 10 ms and 1 s: keepalives and timeouts come at most that late. */
export function tickMsFor(keepaliveMs: number): number {
  return Math.min(Math.max(Math.round(keepaliveMs / 10), 10), 1_000);
}
