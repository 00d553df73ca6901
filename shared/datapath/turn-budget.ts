import { setImmediate as nextTurn } from 'node:timers';

/** How long the continuations of one event-loop turn may run before the rest wait for the next. */
export const TURN_BUDGET_MS = 20;

/**
 * Spreads work that arrives all at once over several event-loop turns: thousands of tunnels whose
 * devices opened in one batch resume in one turn, and each one's setup (its route, first keepalive,
 * path MTU) would otherwise hold the loop for seconds, sessions and keepalives waiting. Before each
 * piece of work, `pause()` answers undefined (go on now) while the current turn has run less than
 * the budget, else a promise that resolves in a later turn (after the loop polled for I/O).
 */
export class TurnBudget {
  /** When the current turn's first check ran; -1 before it. */
  #since = -1;

  constructor(private readonly budgetMs = TURN_BUDGET_MS, private readonly now: () => number = () => performance.now()) {}

  /** Undefined while the current turn has budget left; else resolves in the first later turn that has. */
  pause(): Promise<void> | undefined {
    return this.#spent() ? this.#later() : undefined;
  }

  #spent(): boolean {
    const now = this.now();
    if (this.#since < 0) {
      this.#since = now;
      // Queued before any waiter: the next turn starts with a fresh budget.
      nextTurn(() => {
        this.#since = -1;
      });
    }
    return now - this.#since >= this.budgetMs;
  }

  async #later(): Promise<void> {
    do await new Promise<void>((resolve) => nextTurn(resolve));
    while (this.#spent());
  }
}
