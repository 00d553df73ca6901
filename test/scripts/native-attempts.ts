/** Records, per label, whether an action worked ('ok') or the code and message of what it threw. */
export class NativeAttempts {
  readonly outcomes: Record<string, { code: unknown; message: string } | 'ok' | boolean> = {};

  /** Runs `action` and records its outcome under `label`. */
  attempt(label: string, action: () => unknown): void {
    try {
      action();
      this.outcomes[label] = 'ok';
    } catch (err) {
      const { code, message } = err as { code?: unknown; message?: unknown };
      this.outcomes[label] = { code, message: String(message) };
    }
  }
}
