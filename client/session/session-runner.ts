import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { TunnelError, isTunnelError } from '../../shared/errors.js';
import { isAuthRefusal, type MessageOf, type WireTunnelSpec } from '../../shared/protocol/index.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { ClientChannel, ClientChannelEvents } from './client-channel.js';
import type { ClientDatapath } from './client-datapath.js';
import { EndpointWatcher, type OuterAddressProbe } from './endpoint-watcher.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import { HubSession } from './hub-session.js';
import { isGlobalIpv6 } from '../../shared/net/global-ipv6.js';
import { IPV6_RETRY_AFTER_MS, Ipv6Preference } from './ipv6-preference.js';
import { ShortcutReporter } from './shortcut-reporter.js';

/** The member's end of its hub link (`tnl-hub`). */
const HUB_TUNNEL = tunnelInterfaceName('hub');
/** How an attempt fails when the hub cannot be reached at all (as opposed to a refusal it answered). */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ERR_NOT_CONNECTED', 'ERR_TIMEOUT']);

/**
 * Refusals that retrying cannot cure: the credentials, or a channel the hub will not hand keys on
 * (ERR_INSECURE_CHANNEL: an encrypted link's member on plain ws://, which must use wss:// or ssh://).
 */
function refusesForGood(code: string): boolean {
  return isAuthRefusal(code) || code === 'ERR_INSECURE_CHANNEL';
}
/** Tries per path probe, and how long each waits by default. */
const PATH_PROBE_TRIES = 3;
const DEFAULT_PATH_PROBE_TIMEOUT_MS = 1_000;

/** Everything the runner needs; the join/run commands build it from the state folder. */
export interface SessionRunnerOptions {
  /**
   * Opens a fresh, authenticated connection to the hub (credentials are chosen per attempt), to
   * `address` (the hub's IPv6 endpoint) when given, else to the hub URL's host.
   */
  dial(events: ClientChannelEvents, address?: string): Promise<ClientChannel>;
  /** The hub's address and port, to watch which outer address routes toward it. */
  hub: { host: string; port: number };
  datapath: ClientDatapath;
  software: string;
  log: Logger;
  /** Prefixes behind this member it asks the hub to route, said in every hello. */
  advertise?: readonly string[];
  /** The config saved by an earlier run: brought up at once, and the floor for stale versions. */
  savedConfig?: MessageOf<'config'>;
  /** Called after a config is applied (before it is acknowledged), e.g. to persist it. */
  onApplied?(config: MessageOf<'config'>): void;
  /** Called on every welcome, e.g. to switch credentials after an invite was redeemed. */
  onWelcome?(welcome: MessageOf<'welcome'>): void;
  /** Called when a welcomed session ends (the runner reconnects unless stopped). */
  onSessionEnded?(): void;
  /**
   * Called after each attempt that could not reach the hub at all (no answer, connection
   * refused), not after refusals the hub answered. Returns where the member moved to when it
   * chose another hub of its cluster; the runner then watches the way there and connects at once.
   */
  unreachable?(error: TunnelError): { host: string; port: number } | undefined;
  backoff?: BackoffPolicy;
  /** How long one path probe of the hub tunnel waits for its answer (three are tried); default 1 s. */
  pathProbeTimeoutMs?: number;
  probe?: OuterAddressProbe;
  probeIntervalMs?: number;
}

/**
 * Keeps one member connected to its hub: connects, runs a HubSession, reconnects with jittered
 * backoff when the hub is away, and reconnects at once when the outer address toward the hub
 * changes, so the hub sees (and thereby verifies) the new address. Stops on refused credentials.
 *
 * IPv6 first: when the hub tells its global IPv6 address (`welcome.ipv6Endpoint`) and this host
 * has a global IPv6 source toward it, the member connects there instead, so the hub sees it over
 * IPv6 and its hub link runs over IPv6 (typical of DS-Lite lines: IPv4 behind a carrier NAT, IPv6
 * public). It falls back to the hub URL's address (IPv4) when that IPv6 source goes away, when
 * the IPv6 connection fails, or when the hub says no encapsulation answered over IPv6
 * (`ipv6-unanswered`), and tries IPv6 again after IPV6_RETRY_AFTER_MS.
 */
export class SessionRunner {
  private stopped = false;
  private applied = 0;
  private session: HubSession | undefined;
  private channel: ClientChannel | undefined;
  private wake: AbortController | undefined;
  /** Set when the next connection must not wait for backoff (the outer address just moved). */
  private reconnectNow = false;
  private readonly watcher: EndpointWatcher;
  /** The hub's IPv6 endpoint (from welcome), a watcher of our source toward it, and when IPv6 may be tried again. */
  private ipv6Endpoint: string | null = null;
  private watcher6: EndpointWatcher | undefined;
  private readonly ipv6 = new Ipv6Preference();
  /** Which of the hub's addresses the current connection goes to. */
  private over: 'url' | 'ipv6' = 'url';
  /** The hub tunnel path (encapsulation and remote) last probed, and in which session. */
  private probedPath: string | undefined;
  private probedSession: HubSession | undefined;
  /** The prefix states last logged, so each change is said once. */
  private advertisedSeen = '[]';
  private firstAck!: (config: MessageOf<'config'>) => void;
  private loopDone: Promise<void> | undefined;
  private fatal: TunnelError | undefined;
  /** Settles with the first config acknowledged in this run (or rejects when the runner gives up first). */
  readonly firstConfig: Promise<MessageOf<'config'>>;
  private rejectFirst!: (error: TunnelError) => void;
  /** Tells the hub how this member's shortcut tunnels are doing. */
  private readonly shortcuts: ShortcutReporter;

  constructor(private readonly options: SessionRunnerOptions) {
    const datapath = options.datapath;
    this.shortcuts = new ShortcutReporter((tunnel) => {
      const state = datapath.linkState?.(tunnel);
      return state && { tunnel, ...state };
    }, (links) => this.session?.linkReport(links), datapath.probe?.bind(datapath));
    datapath.onLivenessChange?.((name) => this.shortcuts.changed(name));
    this.watcher = new EndpointWatcher(options.hub.host, options.hub.port, (address, previous) => this.endpointChanged(address, previous),
      options.probeIntervalMs, options.probe);
    this.firstConfig = new Promise((resolve, reject) => {
      this.firstAck = resolve;
      this.rejectFirst = reject;
    });
    this.firstConfig.catch(() => undefined);
    // The hub makes the next SAs; a session that is down misses nothing (the hub rekeys on interval too).
    options.datapath.onRekeyDue?.((tunnel) => this.session?.rekey(tunnel));
  }

  /** Brings up the saved config (if any) and starts connecting; resolves once the loop runs. */
  async start(): Promise<void> {
    const saved = this.options.savedConfig;
    if (saved) {
      try {
        await this.options.datapath.apply(saved.tunnels, saved.paths ?? [], saved.links);
        this.applied = saved.version;
      } catch (err) {
        this.options.log.warn({ code: isTunnelError(err) ? err.code : undefined, err: (err as Error).message }, 'saved config could not be brought up; waiting for the hub');
      }
    }
    await this.watcher.start();
    this.loopDone = this.loop();
  }

  /** Resolves when the runner stops: after `stop()`, or rejects when the hub refuses our credentials (or our state is unusable). */
  async done(): Promise<void> {
    await this.loopDone;
    if (this.fatal) throw this.fatal;
  }

  /** Disconnects and stops reconnecting; tunnels stay as they are (the caller closes the datapath). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.shortcuts.stop();
    this.watcher.stop();
    this.watcher6?.stop();
    this.session?.end();
    this.wake?.abort();
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      let welcomed = false;
      let failed: TunnelError | undefined;
      try {
        const ended = await this.connectOnce(() => {
          welcomed = true;
        });
        if (ended && refusesForGood(ended.code)) throw ended;
        if (ended) this.options.log.info({ code: ended.code, reason: ended.message }, 'session ended');
        if (!welcomed) failed = ended;
      } catch (err) {
        const error = isTunnelError(err) ? err : new TunnelError('ERR_SYSTEM', (err as Error).message);
        if (refusesForGood(error.code) || error.code === 'ERR_STATE') {
          this.fatal = error;
          this.stopped = true;
          this.watcher.stop();
          this.watcher6?.stop();
          this.rejectFirst(error);
          return;
        }
        this.options.log.info({ code: error.code, reason: error.message, over: this.over }, 'hub unreachable');
        // An IPv6 connection that fails is given up for now: the next try goes over IPv4 at once.
        if (this.over === 'ipv6') {
          this.giveUpIpv6('connect', 'the IPv6 connection failed');
        } else {
          failed = error;
          this.ipv6.ipv4Failed();
        }
      }
      if (welcomed) {
        attempt = 0;
        this.ipv6.welcomed();
      }
      if (failed && UNREACHABLE_CODES.has(failed.code)) {
        const moved = this.options.unreachable?.(failed);
        if (moved) {
          this.watcher.retarget(moved.host, moved.port);
          this.reconnectNow = true;
          attempt = 0;
        }
      }
      if (this.stopped) break;
      if (this.reconnectNow) {
        this.reconnectNow = false;
        continue;
      }
      const delay = backoffDelay(attempt++, this.options.backoff ?? DEFAULT_BACKOFF);
      this.wake = new AbortController();
      await sleep(delay, undefined, { signal: this.wake.signal }).catch(() => undefined);
      this.reconnectNow = false;
    }
    this.rejectFirst(new TunnelError('ERR_CLOSED', 'stopped before the first config arrived'));
  }

  /** One connection: resolves with why it ended. */
  private async connectOnce(onWelcome: () => void): Promise<TunnelError | undefined> {
    let resolveEnded!: (error: TunnelError | undefined) => void;
    const ended = new Promise<TunnelError | undefined>((resolve) => {
      resolveEnded = resolve;
    });
    let session: HubSession | undefined;
    const pending: Buffer[] = [];
    this.over = this.prefersIpv6() ? 'ipv6' : 'url';
    const channel = await this.options.dial({
      message: (raw) => (session ? session.receive(raw) : pending.push(raw)),
      closed: (error) => (session ? session.end(error) : resolveEnded(error)),
    }, this.over === 'ipv6' ? this.ipv6Endpoint! : undefined);
    if (this.stopped) {
      channel.close();
      return undefined;
    }
    let welcomed = false;
    session = new HubSession(channel, {
      welcomed: (welcome) => {
        welcomed = true;
        onWelcome();
        this.options.log.info({ peer: welcome.peer, seen: welcome.seen, session: welcome.session }, 'connected to the hub');
        this.options.onWelcome?.(welcome);
        void this.learnIpv6Endpoint(welcome.ipv6Endpoint ?? null);
      },
      apply: (config) => this.apply(config),
      appliedVersion: () => this.applied,
      acknowledged: (config) => {
        this.firstAck(config);
        // After every ack, the re-ack of a new session included: a hub that restarted learns them again.
        this.shortcuts.follow((config.paths ?? []).filter((path) => path.kind === 'shortcut' && path.reachable).map((path) => path.tunnel));
      },
      ended: resolveEnded,
      ...(this.options.datapath.pathHeardAt ? { hubPathHeardAt: () => this.options.datapath.pathHeardAt!(HUB_TUNNEL) } : {}),
    });
    this.session = session;
    this.channel = channel;
    // The address said in hello is of the family this connection runs over.
    const watched = this.over === 'ipv6' ? this.watcher6?.current : this.watcher.current;
    session.start(this.options.software, watched ?? channel.localAddress, this.options.advertise);
    for (const raw of pending.splice(0)) session.receive(raw);
    const error = await ended;
    if (welcomed) this.options.onSessionEnded?.();
    if (this.session === session) {
      this.session = undefined;
      this.channel = undefined;
    }
    return error;
  }

  private async apply(config: MessageOf<'config'>): Promise<void> {
    await this.options.datapath.apply(config.tunnels, config.paths ?? [], config.links);
    this.applied = config.version;
    this.options.onApplied?.(config);
    this.options.log.info({ version: config.version, tunnels: config.tunnels.length }, 'config applied');
    this.logAdvertised(config.advertised ?? []);
    const hubTunnel = config.tunnels.find((tunnel) => tunnel.name === HUB_TUNNEL);
    if (this.over === 'ipv6' && (config.paths ?? []).some((path) => path.tunnel === HUB_TUNNEL && path.reason === 'ipv6-unanswered')) {
      this.giveUpIpv6('unanswered', 'no encapsulation answered over IPv6');
      this.switchConnection('falling back to IPv4');
      return;
    }
    if (hubTunnel && this.session) void this.probePath(this.session, hubTunnel);
  }

  /** True when the next connection should go to the hub's IPv6 endpoint. */
  private prefersIpv6(): boolean {
    const source = this.watcher6?.current;
    return this.ipv6Endpoint !== null && source !== null && source !== undefined && isGlobalIpv6(source) && this.ipv6.allows(Date.now());
  }

  private giveUpIpv6(why: 'connect' | 'unanswered', reason: string): void {
    this.ipv6.giveUp(Date.now(), why);
    this.reconnectNow = true;
    this.options.log.info({ reason, retryInMs: IPV6_RETRY_AFTER_MS }, 'IPv6 path to the hub given up for now');
  }

  /** Ends the current session so the loop connects again at once, to the address now preferred. */
  private switchConnection(why: string): void {
    if (!this.session) return;
    this.reconnectNow = true;
    this.session.end(new TunnelError('ERR_NOT_CONNECTED', why));
  }

  /** The hub told (or stopped telling) its IPv6 endpoint: watch our source toward it, and move there if we can. */
  private async learnIpv6Endpoint(endpoint: string | null): Promise<void> {
    if (endpoint === this.ipv6Endpoint) return;
    this.watcher6?.stop();
    this.watcher6 = undefined;
    this.ipv6Endpoint = endpoint;
    if (endpoint === null) return;
    const watcher = new EndpointWatcher(endpoint, this.options.hub.port, (address, previous) => this.endpoint6Changed(address, previous),
      this.options.probeIntervalMs, this.options.probe);
    this.watcher6 = watcher;
    await watcher.start();
    if (this.watcher6 !== watcher || this.stopped) {
      watcher.stop();
      return;
    }
    if (this.over === 'url' && this.prefersIpv6()) this.switchConnection('the hub is reachable over IPv6');
  }

  /** Our IPv6 source toward the hub changed: follow it on an IPv6 connection, or move to IPv6 when it appears. */
  private endpoint6Changed(address: string | null, previous: string | null | undefined): void {
    this.options.log.info({ address, previous }, 'IPv6 address toward the hub changed');
    if (this.over === 'ipv6') {
      if (address === null || !isGlobalIpv6(address)) {
        this.switchConnection('the IPv6 path to the hub is gone');
        return;
      }
      if (this.channel && this.session && this.channel.localAddress !== address) {
        this.switchConnection(`outer address moved to ${address}`);
      }
      return;
    }
    if (this.prefersIpv6()) this.switchConnection('the hub is reachable over IPv6');
  }

  /** Says what became of the advertised prefixes whenever that changes. */
  private logAdvertised(advertised: NonNullable<MessageOf<'config'>['advertised']>): void {
    const text = JSON.stringify(advertised);
    if (text === this.advertisedSeen) return;
    this.advertisedSeen = text;
    for (const prefix of advertised) {
      if (prefix.state === 'refused') this.options.log.warn({ prefix: prefix.prefix, code: prefix.code, reason: prefix.message }, 'the hub refused an advertised prefix');
      else if (prefix.state === 'pending') this.options.log.info({ prefix: prefix.prefix }, 'advertised prefix pending the hub operator\'s approval');
    }
  }

  /**
   * Probes the hub tunnel's path once per (encapsulation, remote) and tells the hub, which falls
   * back GRE -> FOU -> GUE on an unanswered probe. Three tries, so one lost packet is no verdict.
   */
  private async probePath(session: HubSession, tunnel: WireTunnelSpec): Promise<void> {
    const probe = this.options.datapath.probe?.bind(this.options.datapath);
    // ipip has no probe; gretap is only ever pinned, so a probe would change nothing; ESP in UDP
    // is the encrypted ladder's last rung, with nothing to fall back to.
    if (!probe || tunnel.encap === 'ipip' || tunnel.encap === 'gretap' || (tunnel.esp?.udp ?? null) !== null) return;
    const path = `${tunnel.encap} ${tunnel.remote}`;
    if (this.probedPath === path && this.probedSession === session) return;
    this.probedPath = path;
    this.probedSession = session;
    let answered = false;
    for (let attempt = 0; attempt < PATH_PROBE_TRIES && !answered; attempt++) {
      try {
        answered = await probe(tunnel.name, this.options.pathProbeTimeoutMs ?? DEFAULT_PATH_PROBE_TIMEOUT_MS);
      } catch (err) {
        this.options.log.warn({ code: isTunnelError(err) ? err.code : undefined, err: (err as Error).message }, 'path probe failed');
        return;
      }
      if (this.probedPath !== path || this.probedSession !== session) return; // a newer config took over
    }
    this.options.log.info({ tunnel: tunnel.name, encap: tunnel.encap, answered }, 'path probe done');
    session.probe(tunnel.name, tunnel.encap, answered);
  }

  private endpointChanged(address: string | null, previous: string | null | undefined): void {
    this.options.log.info({ address, previous }, 'outer address toward the hub changed');
    if (address === null) return; // no route right now; wait for one
    // A link over IPv6 does not care where IPv4 goes.
    if (this.over === 'ipv6' && this.session) return;
    if (this.channel && this.session && this.channel.localAddress !== address) {
      // The hub only trusts the address it sees: reconnect from the new one instead of claiming it.
      this.reconnectNow = true;
      this.session.end(new TunnelError('ERR_NOT_CONNECTED', `outer address moved to ${address}`));
      return;
    }
    if (this.session) {
      this.session.report(address);
      return;
    }
    this.reconnectNow = true;
    this.wake?.abort();
  }
}
