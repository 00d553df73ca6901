import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { TunnelError } from '../../shared/errors.js';
import { listenServer } from './listen-server.js';
import { DEFAULT_SOURCE_LIMITS, REFUSAL_REASONS, SourceLimits, type RefusalReason, type SourceLimitSettings } from './source-limits.js';

/** The hub's listeners, as metrics and logs name them. */
export type DoorName = 'ws' | 'ssh' | 'admin';

/** How long a connection may take to authenticate, and stay silent once it has. */
export interface GateTimeouts {
  /** From accept to authenticated (TLS, HTTP upgrade, SSH key exchange and auth): slowloris ends here. */
  handshakeMs: number;
  /** No byte either way for this long ends an authenticated connection (keepalives keep it busy). */
  idleMs: number;
}

/** Everything a gate counted, for `/metrics`. */
export interface GateStats {
  door: DoorName;
  open: number;
  pending: number;
  /** Sources remembered, and of them waiting after failed logins. */
  sources: number;
  blocked: number;
  accepted: number;
  refused: Record<RefusalReason, number>;
  timeouts: { handshake: number; idle: number };
  /** Failed logins by error code. */
  authFailures: Record<string, number>;
}

/** Options of a {@link ConnectionGate}. */
export interface ConnectionGateOptions {
  door: DoorName;
  timeouts: GateTimeouts;
  limits?: Partial<SourceLimitSettings>;
  log: Logger;
  clock?: () => number;
}

interface Tracked {
  socket: Socket;
  address: string;
  pending: boolean;
  deadline: NodeJS.Timeout;
}

/** What each door is, and the `serve` flag that moves it, for bind errors. */
const DOOR_FLAGS: Record<DoorName, { what: string; fix: string }> = {
  ws: { what: 'WebSocket', fix: 'choose another with --ws-port' },
  ssh: { what: 'SSH', fix: 'choose another with --ssh-port' },
  admin: { what: '/metrics and the status page', fix: 'choose another with --admin-listen ADDR:PORT, or --no-admin' },
};

/** Summaries of refusals are logged at most this often per door, so a flood cannot flood the log. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;
const SWEEP_INTERVAL_MS = 30_000;

/**
 * A front door's listener with limits: it accepts TCP connections itself, refuses those over the
 * per-source rate, the connection caps or in a failed-login wait (closed before a byte is read),
 * gives the rest a deadline to authenticate and, once they have, an idle timeout. Accepted sockets
 * are handed on (`http.Server#emit('connection')`, `ssh2.Server#injectSocket`), so the protocol
 * servers never listen themselves. Every refusal and timeout is counted for `/metrics`.
 */
export class ConnectionGate {
  readonly door: DoorName;
  private readonly limits: SourceLimits;
  private readonly tracked = new Map<string, Tracked>();
  private readonly counters = {
    accepted: 0,
    refused: Object.fromEntries(REFUSAL_REASONS.map((reason) => [reason, 0])) as Record<RefusalReason, number>,
    timeouts: { handshake: 0, idle: 0 },
    authFailures: new Map<string, number>(),
  };
  private readonly sweeper: NodeJS.Timeout;
  private refusedSinceLog = 0;
  private lastRefusalLog = 0;
  private server: Server | undefined;

  constructor(private readonly options: ConnectionGateOptions) {
    this.door = options.door;
    this.limits = new SourceLimits({ ...DEFAULT_SOURCE_LIMITS, ...options.limits }, options.clock);
    this.sweeper = setInterval(() => this.limits.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /**
   * Listens on host:port; each admitted connection goes to `accept`. Resolves with the bound port;
   * a port taken or not allowed is ERR_SYSTEM naming the flag that moves it.
   */
  async listen(host: string, port: number, accept: (socket: Socket) => void): Promise<number> {
    const server = createServer((socket) => this.onConnection(socket, accept));
    try {
      await listenServer(server, port, host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'not allowed (a port below 1024 needs CAP_NET_BIND_SERVICE)' : (err as Error).message;
      throw new TunnelError('ERR_SYSTEM', `cannot listen on ${host}:${port} for ${DOOR_FLAGS[this.door].what}: ${why}; ${DOOR_FLAGS[this.door].fix}`, { cause: err });
    }
    server.on('error', (err) => this.options.log.warn({ door: this.door, err: err.message }, 'listener error'));
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** The connection from address:port authenticated: no deadline any more, an idle timeout instead. */
  established(address: string | undefined, port: number | undefined): void {
    const entry = this.tracked.get(`${address}|${port}`);
    if (!entry?.pending) return;
    entry.pending = false;
    clearTimeout(entry.deadline);
    this.limits.authenticated(entry.address);
    const idleMs = this.options.timeouts.idleMs;
    entry.socket.setTimeout(idleMs, () => {
      // A protocol server may set its own timeout later (HTTP's keep-alive of 5 s, say): when that
      // one fires, it is the server's to handle, and no idle deadline of this gate was met.
      if (entry.socket.timeout !== idleMs) return;
      this.counters.timeouts.idle += 1;
      entry.socket.destroy();
    });
  }

  /** A failed login from `address` (code: why); repeated ones make the source wait. */
  loginFailed(address: string, code: string): void {
    this.counters.authFailures.set(code, (this.counters.authFailures.get(code) ?? 0) + 1);
    this.limits.loginFailed(address);
  }

  /** A successful login from `address` clears its failures. */
  loginSucceeded(address: string): void {
    this.limits.loginSucceeded(address);
  }

  /** True while `address` waits after failed logins (new connections from it are refused). */
  isBlocked(address: string): boolean {
    return this.limits.isBlocked(address);
  }

  /**
   * For requests on a kept-alive connection (admitted before its source had to wait): ends the
   * connection and counts the refusal when `address` waits after failed logins.
   */
  refuseIfBlocked(address: string, socket: { destroy(): void }): boolean {
    if (!this.limits.isBlocked(address)) return false;
    this.counters.refused['login-backoff'] += 1;
    socket.destroy();
    return true;
  }

  /** What the gate counted so far, and what is open now. */
  stats(): GateStats {
    const counts = this.limits.counts();
    return {
      door: this.door,
      open: counts.open,
      pending: counts.pending,
      sources: counts.sources,
      blocked: counts.blocked,
      accepted: this.counters.accepted,
      refused: { ...this.counters.refused },
      timeouts: { ...this.counters.timeouts },
      authFailures: Object.fromEntries(this.counters.authFailures),
    };
  }

  /**
   * Stops listening at once. Open connections are the protocol server's to end, so this does not
   * wait for them (net.Server#close would, until the last keep-alive times out).
   */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.server?.close();
    this.server = undefined;
    for (const entry of this.tracked.values()) clearTimeout(entry.deadline);
  }

  private onConnection(socket: Socket, accept: (socket: Socket) => void): void {
    const address = socket.remoteAddress ?? '';
    const refusal = this.limits.admit(address);
    if (refusal) {
      this.counters.refused[refusal] += 1;
      this.logRefusal(address, refusal);
      socket.destroy();
      return;
    }
    this.counters.accepted += 1;
    const key = `${address}|${socket.remotePort}`;
    const entry: Tracked = {
      socket,
      address,
      pending: true,
      deadline: setTimeout(() => {
        this.counters.timeouts.handshake += 1;
        socket.destroy();
      }, this.options.timeouts.handshakeMs),
    };
    this.tracked.set(key, entry);
    socket.once('close', () => {
      clearTimeout(entry.deadline);
      this.limits.closed(address, entry.pending);
      if (this.tracked.get(key) === entry) this.tracked.delete(key);
    });
    accept(socket);
  }

  private logRefusal(address: string, reason: RefusalReason): void {
    this.refusedSinceLog += 1;
    const now = Date.now();
    if (now - this.lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    this.options.log.warn({ door: this.door, source: address, reason, refused: this.refusedSinceLog }, 'refusing connections over the limits');
    this.lastRefusalLog = now;
    this.refusedSinceLog = 0;
  }
}
