import { isIPv6 } from 'node:net';

/** The limits of one front door; {@link DEFAULT_SOURCE_LIMITS} says what each is for. */
export interface SourceLimitSettings {
  /** New connections one source may open per second, sustained. */
  connectRate: number;
  /** …and in a burst (a NAT full of members reconnecting after a hub restart). */
  connectBurst: number;
  /** Open connections one source may hold. */
  maxPerSource: number;
  /** …of which not yet authenticated. */
  maxPendingPerSource: number;
  /** Open connections on the door. */
  maxConnections: number;
  /** …of which not yet authenticated: a flood of idle connections cannot crowd out members. */
  maxPending: number;
  /** Failed logins a source may make before it has to wait. */
  freeFailures: number;
  /** The first wait; it doubles with every further failure… */
  backoffBaseMs: number;
  /** …up to this. */
  backoffMaxMs: number;
  /** A source's failures are forgotten after this long without one. */
  forgetAfterMs: number;
  /** Sources remembered at most; idle ones are forgotten first, so memory stays bounded. */
  maxSources: number;
}

/** Limits suited to a hub with a few thousand members, some of them behind one carrier NAT. */
export const DEFAULT_SOURCE_LIMITS: SourceLimitSettings = {
  connectRate: 20,
  connectBurst: 100,
  maxPerSource: 256,
  maxPendingPerSource: 32,
  // Room for 10,000 members and their reconnects; the systemd unit's LimitNOFILE (65536) covers their descriptors.
  maxConnections: 32_768,
  maxPending: 512,
  freeFailures: 5,
  backoffBaseMs: 1000,
  backoffMaxMs: 300_000,
  forgetAfterMs: 900_000,
  maxSources: 16_384,
};

/** Why a connection was refused at the door, before a byte of it was read. */
export type RefusalReason = 'rate' | 'door-full' | 'door-pending' | 'source-full' | 'source-pending' | 'login-backoff';

/** Every refusal reason, for counters that start at zero. */
export const REFUSAL_REASONS: readonly RefusalReason[] = ['rate', 'door-full', 'door-pending', 'source-full', 'source-pending', 'login-backoff'];

interface SourceState {
  open: number;
  pending: number;
  tokens: number;
  refilledAt: number;
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

/**
 * The per-source bookkeeping of one front door: a token bucket for new connections, caps on open
 * and not-yet-authenticated connections (per source and for the door), and an exponential wait
 * after repeated failed logins. A source is an IPv4 address or an IPv6 /64 (one subscriber).
 * Pure state and decisions over an injected clock; connection-gate.ts applies them to sockets.
 */
export class SourceLimits {
  private readonly sources = new Map<string, SourceState>();
  private open = 0;
  private pending = 0;

  constructor(readonly settings: SourceLimitSettings, private readonly clock: () => number = Date.now) {}

  /** Decides on a new connection from `address`: undefined admits it (counted open and pending). */
  admit(address: string): RefusalReason | undefined {
    const now = this.clock();
    const state = this.stateOf(sourceKey(address), now);
    if (state.blockedUntil > now) return 'login-backoff';
    if (this.open >= this.settings.maxConnections) return 'door-full';
    if (this.pending >= this.settings.maxPending) return 'door-pending';
    if (state.open >= this.settings.maxPerSource) return 'source-full';
    if (state.pending >= this.settings.maxPendingPerSource) return 'source-pending';
    state.tokens = Math.min(this.settings.connectBurst, state.tokens + ((now - state.refilledAt) * this.settings.connectRate) / 1000);
    state.refilledAt = now;
    if (state.tokens < 1) return 'rate';
    state.tokens -= 1;
    state.open += 1;
    state.pending += 1;
    this.open += 1;
    this.pending += 1;
    return undefined;
  }

  /** An admitted connection authenticated: it no longer counts as pending. */
  authenticated(address: string): void {
    const state = this.sources.get(sourceKey(address));
    if (!state || state.pending === 0) return;
    state.pending -= 1;
    this.pending -= 1;
  }

  /** An admitted connection closed; `pending` says whether it never authenticated. */
  closed(address: string, pending: boolean): void {
    const state = this.sources.get(sourceKey(address));
    if (!state || state.open === 0) return;
    state.open -= 1;
    this.open -= 1;
    if (pending && state.pending > 0) {
      state.pending -= 1;
      this.pending -= 1;
    }
  }

  /** A failed login from `address`; past the free ones, the source waits before it may connect again. */
  loginFailed(address: string): void {
    const now = this.clock();
    const state = this.stateOf(sourceKey(address), now);
    if (now - state.lastFailureAt > this.settings.forgetAfterMs) state.failures = 0;
    state.failures += 1;
    state.lastFailureAt = now;
    const over = state.failures - this.settings.freeFailures;
    if (over > 0) {
      const wait = Math.min(this.settings.backoffMaxMs, this.settings.backoffBaseMs * 2 ** Math.min(over - 1, 30));
      state.blockedUntil = Math.max(state.blockedUntil, now + wait);
    }
  }

  /** A successful login: the source's earlier failures were typos, not guessing. */
  loginSucceeded(address: string): void {
    const state = this.sources.get(sourceKey(address));
    if (!state) return;
    state.failures = 0;
    state.blockedUntil = 0;
  }

  /** True while `address` must wait after failed logins. */
  isBlocked(address: string): boolean {
    return (this.sources.get(sourceKey(address))?.blockedUntil ?? 0) > this.clock();
  }

  /** Open and not-yet-authenticated connections on the door, sources remembered and waiting. */
  counts(): { open: number; pending: number; sources: number; blocked: number } {
    const now = this.clock();
    let blocked = 0;
    for (const state of this.sources.values()) if (state.blockedUntil > now) blocked += 1;
    return { open: this.open, pending: this.pending, sources: this.sources.size, blocked };
  }

  /** Forgets sources with nothing left to remember: no connection, a full bucket, no failures. */
  sweep(): void {
    const now = this.clock();
    for (const [key, state] of this.sources) {
      if (this.isIdle(state, now)) this.sources.delete(key);
    }
  }

  private isIdle(state: SourceState, now: number): boolean {
    const refilled = state.tokens + ((now - state.refilledAt) * this.settings.connectRate) / 1000 >= this.settings.connectBurst;
    const forgiven = state.failures === 0 || now - state.lastFailureAt > this.settings.forgetAfterMs;
    return state.open === 0 && refilled && forgiven && state.blockedUntil <= now;
  }

  private stateOf(key: string, now: number): SourceState {
    let state = this.sources.get(key);
    if (state) return state;
    if (this.sources.size >= this.settings.maxSources) this.evict();
    state = { open: 0, pending: 0, tokens: this.settings.connectBurst, refilledAt: now, failures: 0, lastFailureAt: 0, blockedUntil: 0 };
    this.sources.set(key, state);
    return state;
  }

  /**
   * Makes room: idle sources first, then the longest-known without an open connection. Sources
   * with open connections are at most maxConnections, so the map stays bounded.
   */
  private evict(): void {
    this.sweep();
    for (const [key, state] of this.sources) {
      if (this.sources.size < this.settings.maxSources) return;
      if (state.open === 0) this.sources.delete(key);
    }
  }
}

/** The unit limits apply to: an IPv4 address (IPv4-mapped IPv6 unwrapped), or an IPv6 /64. */
export function sourceKey(address: string): string {
  const plain = address.startsWith('::ffff:') && !address.slice(7).includes(':') ? address.slice(7) : address;
  if (!isIPv6(plain)) return plain;
  const groups = expandIpv6(plain);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIpv6(address: string): string[] {
  const [head = '', tail = ''] = address.split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const fill = address.includes('::') ? new Array<string>(8 - left.length - right.length).fill('0') : [];
  return [...left, ...fill, ...right].map((group) => (group.includes('.') ? group : Number.parseInt(group, 16).toString(16)));
}
