/** Records, per label, whether an action worked ('ok') or the code and message of what it threw. */
export class NativeAttempts {
  readonly outcomes: Record<string, { code: unknown; message: string } | 'ok' | boolean> = {};

  /** Runs `action` (awaiting it when it returns a promise) and records its outcome under `label`. */
  async attempt(label: string, action: () => unknown): Promise<void> {
    try {
      await action();
      this.outcomes[label] = 'ok';
    } catch (err) {
      const { code, message } = err as { code?: unknown; message?: unknown };
      this.outcomes[label] = { code, message: String(message) };
    }
  }
}
