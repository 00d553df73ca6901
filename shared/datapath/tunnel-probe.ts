/** What answers a probe: a keepalive reply (GRE keepalive, UDP keepalive echo) or a hello-ack. */
export type ProbeAnswer = 'keepalive' | 'hello';

interface Waiter {
  answer: ProbeAnswer;
  resolve: (answered: boolean) => void;
  timer: NodeJS.Timeout;
}

/**
 * Outstanding `engine.probe()` calls of one tunnel. The receive path calls answered() when a reply
 * of that kind arrives; a waiter not answered within its timeout resolves false. Nothing here sends.
 */
export class TunnelProbes {
  private readonly waiters = new Set<Waiter>();

  /** A promise that resolves true when `answer` arrives within `timeoutMs`, else false. */
  wait(answer: ProbeAnswer, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        answer,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** A reply of kind `answer` arrived: every waiter for it resolves true. */
  answered(answer: ProbeAnswer): void {
    if (this.waiters.size === 0) return;
    for (const waiter of [...this.waiters]) {
      if (waiter.answer !== answer) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve(true);
    }
  }

  /** The tunnel is going away: every waiter resolves false now. */
  cancelAll(): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
    this.waiters.clear();
  }
}
