/** How long the member keeps to IPv4 after its IPv6 path failed (no connection, or no encapsulation answered). */
export const IPV6_RETRY_AFTER_MS = 10 * 60_000;

/**
 * Whether a member may try its hub's IPv6 endpoint now. An IPv6 path that failed is given up for
 * IPV6_RETRY_AFTER_MS, except when the IPv4 attempt right after it fails too: then the hub was
 * down, not the IPv6 path, and IPv6 is allowed again at once (a hub restart must not strand a
 * member on IPv4 for ten minutes, with its IPv6 peer links of another family).
 */
export class Ipv6Preference {
  private retryAt = 0;
  /** The last give-up was a failed IPv6 connection that no working IPv4 connection has confirmed yet. */
  private failedOnConnect = false;

  /** True when IPv6 may be tried at `now`. */
  allows(now: number): boolean {
    return now >= this.retryAt;
  }

  /** The IPv6 path did not work (`connect`: the connection failed; `unanswered`: no encapsulation answered over it). */
  giveUp(now: number, why: 'connect' | 'unanswered'): void {
    this.retryAt = now + IPV6_RETRY_AFTER_MS;
    this.failedOnConnect = why === 'connect';
  }

  /** A connection over IPv4 failed: if it follows a failed IPv6 connection, the hub is away and IPv6 stays allowed. */
  ipv4Failed(): void {
    if (this.failedOnConnect) this.retryAt = 0;
    this.failedOnConnect = false;
  }

  /** The hub welcomed a connection: whatever failed before is settled. */
  welcomed(): void {
    this.failedOnConnect = false;
  }
}
