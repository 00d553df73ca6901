/** How often waitUntil asks again: short enough that a test does not linger after the change. */
const POLL_INTERVAL_MS = 25;

/**
 * Polls `check` until it returns a truthy value, and returns that value. After `timeoutMs` it
 * throws "timed out after N ms waiting for WHAT"; `what` may be a function, read only then, so
 * the message can carry output gathered meanwhile. An exception from `check` ends the wait.
 */
export async function waitUntil<T>(check: () => T | Promise<T>, timeoutMs: number, what: string | (() => string)): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
