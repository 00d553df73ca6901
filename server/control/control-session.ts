import { randomBytes, randomUUID } from 'node:crypto';
import { TunnelError, isTunnelError } from '../../shared/errors.js';
import {
  CLIENT_MESSAGE_TYPES, CONTROL_SILENCE_INTERVALS, PATH_PROVEN_INTERVALS, decodeMessage, encodeMessage, isEncodedKeepalive,
  type MessageOf, type OutgoingMessage,
} from '../../shared/protocol/index.js';
import type { KeepaliveTurn, SessionKeepalives } from './session-keepalives.js';
import type { SessionTransport } from './session-transport.js';

/** The keepalive every session sends, encoded once. */
const KEEPALIVE = encodeMessage({ type: 'keepalive' });

/**
 * Longest the welcome waits for the session's first config to leave with it (half the keepalive
 * interval, at most 5 s): well inside the 10 s tunnel-client gives a hub to welcome it.
 */
export function welcomeHoldMs(keepaliveMs: number): number {
  return Math.min(keepaliveMs / 2, 5_000);
}

/** What a session tells the control plane; the plane owns the registry and the datapath. */
export interface SessionEvents {
  established(session: ControlSession, hello: MessageOf<'hello'>): void;
  reported(session: ControlSession, address: string): void;
  acked(session: ControlSession, version: number): void;
  probed(session: ControlSession, probe: MessageOf<'probe'>): void;
  /** An ESP SA of the member's `tunnel` nears the end of its sequence numbers. */
  rekeyRequested(session: ControlSession, tunnel: string): void;
  /** The member's shortcut tunnels' liveness and traffic. */
  linkReported(session: ControlSession, report: MessageOf<'link-report'>): void;
  clientError(session: ControlSession, code: string, message: string): void;
  closed(session: ControlSession, error: TunnelError | undefined): void;
}

type SessionState = 'awaiting-hello' | 'established' | 'closed';

/**
 * One authenticated connection of one peer, whichever front door it came through: enforces the
 * message order (hello first, acks only of versions sent), the client-only message types and the
 * liveness timeout. Any violation closes this session alone with a coded error.
 */
export class ControlSession implements KeepaliveTurn {
  /** Random id, shown in status and sent in `welcome`. */
  readonly id = randomUUID();
  /** 32 random bytes for the peer's UDP hellos; never logged. */
  readonly sessionKey = randomBytes(32);
  readonly startedAt = Date.now();
  private state: SessionState = 'awaiting-hello';
  private highestSent = 0;
  private highestAcked = 0;
  private readonly ackWaiters = new Set<{ version: number; settle: (acked: boolean) => void }>();
  private lastHeard = Date.now();
  /** When the next keepalive is due (ms since epoch); none before the hello. */
  private nextKeepalive = Infinity;
  /** The encoded welcome until the first message after it takes it along (one write for both). */
  private heldWelcome: string | undefined;
  /** When a keepalive last went out (ms since epoch). */
  private lastKeepaliveSent = 0;
  /** When the member's hub tunnel last proved the member alive (path-proven sessions only). */
  private pathProvenAt = 0;

  constructor(
    readonly peer: string,
    readonly transport: SessionTransport,
    /** The hub's clock for every session's keepalives and liveness deadline. */
    private readonly keepalives: SessionKeepalives,
    private readonly events: SessionEvents,
    /** The hub's global IPv6 address, told in `welcome` so the member can connect there. */
    private readonly ipv6Endpoint: string | null = null,
    /**
     * On a path-proven session (shared/protocol/path-liveness.ts): when the member's hub tunnel last
     * heard the member, while its keepalives still prove it alive (else null). Null itself: the
     * member did not offer it, or the hub's datapath cannot tell.
     */
    private readonly pathHeardAt: (() => number | null) | null = null,
  ) {
    keepalives.schedule(this, keepalives.timing.livenessMs);
  }

  /** True after close, for whatever reason. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** When the member last gave a sign of life (ms since epoch): a message, or on a path-proven session its hub tunnel hearing it. */
  get lastSeen(): number {
    const pathHeard = this.pathHeardAt !== null && this.state === 'established' ? this.pathHeardAt() : null;
    return Math.max(this.lastHeard, this.pathProvenAt, pathHeard ?? 0);
  }

  /**
   * The hub tunnel stopped hearing the member (the datapath's word, with when it last did): a
   * path-proven session, which takes turns only for its slow keepalives while the path proves
   * the member alive, takes one at the next tick and keeps the usual keepalives from then on.
   */
  pathQuiet(lastHeardAt: number | null): void {
    if (this.state !== 'established' || this.pathHeardAt === null) return;
    if (lastHeardAt !== null) this.pathProvenAt = Math.max(this.pathProvenAt, lastHeardAt);
    this.keepalives.schedule(this, 0);
  }

  /** Feeds one raw message from the transport. */
  receive(raw: string | Buffer): void {
    if (this.state === 'closed') return;
    this.lastHeard = Date.now();
    // A member's answer to each keepalive: heard, nothing else to do (before hello it is refused below).
    if (this.state === 'established' && isEncodedKeepalive(raw)) return;
    try {
      this.dispatch(raw);
    } catch (err) {
      this.close(isTunnelError(err) ? err : new TunnelError('ERR_PROTOCOL', 'message could not be handled', { cause: err }));
    }
  }

  /** The newest config version sent to the client (0 before the first). */
  get sentVersion(): number {
    return this.highestSent;
  }

  /** Resolves true once the client acknowledged `version` or a newer one; false when the session closes first. */
  acknowledged(version: number): Promise<boolean> {
    if (this.highestAcked >= version) return Promise.resolve(true);
    if (this.state === 'closed') return Promise.resolve(false);
    return new Promise((settle) => this.ackWaiters.add({ version, settle }));
  }

  /** Sends a versioned config unless this session already has it or a newer one. */
  pushConfig(config: Omit<MessageOf<'config'>, 'v' | 'type'>): void {
    if (this.state !== 'established' || config.version <= this.highestSent) return;
    this.highestSent = Math.max(this.highestSent, config.version);
    this.send({ type: 'config', ...config });
  }

  /** Ends the session; with an error, the client receives it as an `error` message first. */
  close(error?: TunnelError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.keepalives.cancel(this);
    if (error) this.send({ type: 'error', code: error.code, message: error.message.slice(0, 512) }, true);
    this.transport.close(error);
    for (const waiter of this.ackWaiters) waiter.settle(false);
    this.ackWaiters.clear();
    this.events.closed(this, error);
  }

  private dispatch(raw: string | Buffer): void {
    const message = decodeMessage(raw);
    if (!CLIENT_MESSAGE_TYPES.has(message.type)) {
      throw new TunnelError('ERR_PROTOCOL', `a client may not send ${message.type}`);
    }
    if (this.state === 'awaiting-hello' && message.type !== 'hello') {
      throw new TunnelError('ERR_PROTOCOL', `${message.type} before hello`);
    }
    switch (message.type) {
      case 'hello':
        if (this.state !== 'awaiting-hello') throw new TunnelError('ERR_PROTOCOL', 'hello sent twice');
        this.state = 'established';
        // Held for the first config (a write each cost the hub a syscall and the member a wakeup), or the clock's turn.
        this.heldWelcome = encodeMessage({
          type: 'welcome', peer: this.peer, session: this.id, sessionKey: this.sessionKey.toString('base64url'),
          keepaliveMs: this.keepalives.timing.keepaliveMs, seen: this.transport.remoteAddress,
          ...(this.ipv6Endpoint !== null ? { ipv6Endpoint: this.ipv6Endpoint } : {}),
        });
        this.nextKeepalive = Date.now() + this.keepalives.timing.keepaliveMs;
        // The welcome is the first sign of life the member gets: a path-proven session's slow keepalives count from it.
        this.lastKeepaliveSent = Date.now();
        this.keepalives.schedule(this, welcomeHoldMs(this.keepalives.timing.keepaliveMs));
        this.events.established(this, message);
        return;
      case 'report':
        this.events.reported(this, message.endpoint.address);
        return;
      case 'ack':
        if (message.version > this.highestSent) {
          throw new TunnelError('ERR_PROTOCOL', `ack of config version ${message.version}, which was never sent`);
        }
        this.highestAcked = Math.max(this.highestAcked, message.version);
        for (const waiter of this.ackWaiters) {
          if (waiter.version > this.highestAcked) continue;
          this.ackWaiters.delete(waiter);
          waiter.settle(true);
        }
        this.events.acked(this, message.version);
        return;
      case 'probe':
        this.events.probed(this, message);
        return;
      case 'rekey':
        this.events.rekeyRequested(this, message.tunnel);
        return;
      case 'link-report':
        this.events.linkReported(this, message);
        return;
      case 'error':
        this.events.clientError(this, message.code, message.message);
        return;
      case 'keepalive':
        return;
    }
  }

  private send(message: OutgoingMessage, evenIfClosed = false): void {
    if (this.state === 'closed' && !evenIfClosed) return;
    this.write(encodeMessage(message));
  }

  /** Sends an encoded message, after the held welcome in the same write. */
  private write(text: string): void {
    const welcome = this.heldWelcome;
    if (welcome === undefined) {
      this.transport.send(text);
      return;
    }
    this.heldWelcome = undefined;
    this.transport.sendTogether([welcome, text]);
  }

  /** Sends the held welcome on its own. */
  private releaseWelcome(): void {
    const welcome = this.heldWelcome;
    if (welcome === undefined) return;
    this.heldWelcome = undefined;
    this.transport.send(welcome);
  }

  /**
   * The clock's turn: a session silent for the liveness timeout closes; otherwise a keepalive goes
   * out when one is due. A message received only moved `lastHeard`, so the deadline is read here.
   * On a path-proven session the hub tunnel hearing the member counts as a message from it, and
   * keepalives slow to one every PATH_PROVEN_INTERVALS intervals while its path proves the member
   * alive; control silence of CONTROL_SILENCE_INTERVALS intervals still closes it. While the path
   * proves it, the next turn is the next slow keepalive's: pathQuiet() brings it forward when the
   * path falls silent, so a hub of thousands does not turn every session every interval.
   */
  keepaliveTurn(now: number): number | null {
    if (this.state === 'closed') return null;
    const { keepaliveMs, livenessMs } = this.keepalives.timing;
    const pathHeard = this.pathHeardAt !== null && this.state === 'established' ? this.pathHeardAt() : null;
    if (pathHeard !== null) this.pathProvenAt = Math.max(this.pathProvenAt, pathHeard);
    const heard = Math.max(this.lastHeard, this.pathProvenAt);
    if (now - heard >= livenessMs) {
      this.close(new TunnelError('ERR_TIMEOUT', `no message for ${livenessMs} ms`));
      return null;
    }
    const controlSilenceMs = keepaliveMs * CONTROL_SILENCE_INTERVALS;
    if (this.pathHeardAt !== null && now - this.lastHeard >= controlSilenceMs) {
      this.close(new TunnelError('ERR_TIMEOUT', `no control message for ${controlSilenceMs} ms`));
      return null;
    }
    this.releaseWelcome();
    if (now >= this.nextKeepalive) {
      if (pathHeard === null || now - this.lastKeepaliveSent >= keepaliveMs * PATH_PROVEN_INTERVALS) {
        this.transport.send(KEEPALIVE);
        this.lastKeepaliveSent = now;
      }
      // Keep the interval's phase (a turn comes up to a tick late), unless the process stalled past it.
      this.nextKeepalive += keepaliveMs;
      if (this.nextKeepalive <= now) this.nextKeepalive = now + keepaliveMs;
    }
    const controlDeadline = this.pathHeardAt === null ? Infinity : this.lastHeard + controlSilenceMs;
    if (pathHeard !== null && this.heldWelcome === undefined) {
      return Math.min(controlDeadline, this.lastKeepaliveSent + keepaliveMs * PATH_PROVEN_INTERVALS) - now;
    }
    return Math.min(heard + livenessMs, controlDeadline, this.nextKeepalive) - now;
  }
}
