import type { Logger } from 'pino';
import { TunnelError, isTunnelError } from '../../shared/errors.js';
import type { MessageOf } from '../../shared/protocol/index.js';
import type { AuthenticatedPeer } from './authenticated-peer.js';
import type { ControlRegistry } from './control-registry.js';
import { ControlSession, type SessionEvents, type SessionTiming } from './control-session.js';
import { sessionAcked, sessionClosed, sessionEstablished, sessionReconfigured } from './diagnostics.js';
import type { HubDatapath } from './hub-datapath.js';
import { buildHubLinkSpecs } from './hub-link-specs.js';
import type { SessionTransport } from './session-transport.js';

/** What the hub knows live about one peer's control connection. */
export interface PeerLiveState {
  connected: boolean;
  transport: 'ws' | 'ssh';
  auth: AuthenticatedPeer['method'];
  session: string;
  /** Where the control connection comes from: the verified endpoint. */
  seen: string;
  /** What the peer says its address is (null until it says). */
  reported: string | null;
  connectedAt: number;
  lastSeen: number;
  /** Why the last session ended, or the last error the peer reported. */
  lastError: string | null;
}

/**
 * The one session handler both front doors reach. It keeps the newest session per peer, records
 * endpoints, and on every endpoint change issues new versioned specs for both ends: the hub's own
 * end is applied to the datapath at once, the peer's is pushed and its ack recorded.
 */
export class ControlPlane implements SessionEvents {
  private readonly sessions = new Map<string, ControlSession>();
  private readonly live = new Map<string, PeerLiveState>();
  private readonly auth = new Map<ControlSession, AuthenticatedPeer['method']>();
  /** Work per peer runs in order, so two quick reports never apply out of order. */
  private readonly queues = new Map<string, Promise<void>>();
  /** Hub ends brought up by this process (the datapath starts empty on every start). */
  private readonly running = new Set<string>();
  private closing = false;

  constructor(
    private readonly registry: ControlRegistry,
    private readonly datapath: HubDatapath,
    private readonly timing: SessionTiming,
    private readonly log: Logger,
  ) {}

  /** Creates the session for a freshly authenticated connection; a peer's older session is closed. */
  attach(peer: AuthenticatedPeer, transport: SessionTransport): ControlSession {
    const session = new ControlSession(peer.name, transport, this.timing, this);
    this.auth.set(session, peer.method);
    if (this.closing) {
      session.close(new TunnelError('ERR_CLOSED', 'the hub is shutting down'));
      return session;
    }
    const previous = this.sessions.get(peer.name);
    this.sessions.set(peer.name, session);
    previous?.close(new TunnelError('ERR_CLOSED', 'replaced by a newer session of the same peer'));
    return session;
  }

  /** Live state of every peer that connected since the hub started. */
  liveState(): ReadonlyMap<string, PeerLiveState> {
    return this.live;
  }

  /** Closes every session and waits for queued reconfigurations. */
  async close(): Promise<void> {
    this.closing = true;
    for (const session of this.sessions.values()) session.close(new TunnelError('ERR_CLOSED', 'the hub is shutting down'));
    await Promise.all(this.queues.values());
  }

  established(session: ControlSession, hello: MessageOf<'hello'>): void {
    const seen = session.transport.remoteAddress;
    this.live.set(session.peer, {
      connected: true, transport: session.transport.kind, auth: this.auth.get(session) ?? 'ssh-key', session: session.id,
      seen, reported: hello.endpoint, connectedAt: session.startedAt, lastSeen: Date.now(), lastError: null,
    });
    sessionEstablished.publish({ peer: session.peer, session: session.id, transport: session.transport.kind, seen, reported: hello.endpoint });
    this.log.info({ peer: session.peer, session: session.id, transport: session.transport.kind, seen, reported: hello.endpoint, software: hello.software }, 'session established');
    this.enqueue(session, () => this.reconfigure(session, hello.endpoint));
  }

  reported(session: ControlSession, address: string): void {
    const state = this.live.get(session.peer);
    if (state?.session === session.id) {
      state.reported = address;
      state.lastSeen = session.lastSeen;
    }
    this.enqueue(session, () => this.reconfigure(session, address));
  }

  acked(session: ControlSession, version: number): void {
    this.enqueue(session, async () => {
      this.registry.recordPeerAck(session.peer, version);
      sessionAcked.publish({ peer: session.peer, version });
    });
  }

  clientError(session: ControlSession, code: string, message: string): void {
    this.log.warn({ peer: session.peer, code, reason: message }, 'peer reported an error');
    const state = this.live.get(session.peer);
    if (state?.session === session.id) state.lastError = `${code}: ${message}`;
  }

  closed(session: ControlSession, error: TunnelError | undefined): void {
    this.auth.delete(session);
    if (this.sessions.get(session.peer) !== session) return;
    this.sessions.delete(session.peer);
    const state = this.live.get(session.peer);
    if (state?.session === session.id) {
      state.connected = false;
      state.lastSeen = session.lastSeen;
      if (error) state.lastError = `${error.code}: ${error.message}`;
    }
    sessionClosed.publish({ peer: session.peer, session: session.id, code: error?.code ?? null });
    this.log.info({ peer: session.peer, session: session.id, code: error?.code }, 'session closed');
  }

  private enqueue(session: ControlSession, work: () => Promise<void>): void {
    const previous = this.queues.get(session.peer) ?? Promise.resolve();
    const next = previous.then(work).catch((err: unknown) => {
      const error = isTunnelError(err) ? err : new TunnelError('ERR_SYSTEM', 'reconfiguration failed', { cause: err });
      if (!isTunnelError(err)) this.log.error({ err, peer: session.peer }, 'reconfiguration failed');
      session.close(error);
    });
    this.queues.set(session.peer, next);
    void next.then(() => {
      if (this.queues.get(session.peer) === next) this.queues.delete(session.peer);
    });
  }

  private async reconfigure(session: ControlSession, reported: string | null): Promise<void> {
    if (session.isClosed) return;
    const peer = session.peer;
    const seen = session.transport.remoteAddress;
    const table = this.registry.hubLinkTable(peer);
    if (!table) throw new TunnelError('ERR_LINK_NOT_FOUND', `peer "${peer}" has no link to the hub`);
    const specs = buildHubLinkSpecs(peer, table, { hub: this.registry.hubEndpoint(), seen, reported });
    this.registry.recordEndpoint(peer, seen);
    const issued = this.registry.issueSpecs(peer, specs.hubEnd, { tunnels: [specs.peerEnd], links: [specs.table] }, reported);
    const hubApplied = issued.hubChanged || !this.running.has(specs.hubEnd.name);
    if (hubApplied) {
      await this.datapath.upsert(specs.hubEnd);
      this.running.add(specs.hubEnd.name);
      this.registry.recordHubApplied(peer, issued.hubVersion);
    }
    if (issued.hubChanged || issued.peerChanged) {
      sessionReconfigured.publish({ peer, hubVersion: issued.hubVersion, peerVersion: issued.peerVersion, remote: seen, reported, hubApplied });
      this.log.info({ peer, hubVersion: issued.hubVersion, peerVersion: issued.peerVersion, remote: seen, reported }, 'link reconfigured');
    }
    session.pushConfig({ version: issued.peerVersion, tunnels: [specs.peerEnd], links: [specs.table] });
  }
}
