import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from '../../shared/metrics/process-metrics.js';
import { formatTunnelTraffic, oncePerScrape, type TunnelTrafficSample } from '../../shared/metrics/tunnel-traffic-metrics.js';
import type { ConnectionGate } from '../control/connection-gate.js';
import { DEVICE_ERROR_CAUSES, hubDeviceErrorChannel, type DeviceErrorCause } from '../control/hub-device-error.js';
import { REFUSAL_REASONS } from '../control/source-limits.js';
import type { HubStatus } from '../hub/hub-status.js';
import { registerHubEspMetrics } from './hub-esp-metrics.js';
import { formatPeerEsp } from './hub-peer-esp-metrics.js';
import { HubTrafficTotals, registerHubTrafficTotals } from './hub-traffic-totals.js';

/** A pool's size and use, as `tunnel-hub pool list` shows them. */
export interface PoolUsage {
  cidr: string;
  subnets: number;
  used: number;
}

/** Where the hub's metrics are read from at scrape time. */
export interface HubMetricsSources {
  status(): HubStatus | Promise<HubStatus>;
  pools(): readonly PoolUsage[] | Promise<readonly PoolUsage[]>;
  gates: readonly ConnectionGate[];
  /**
   * Export the `tunnel_peer_*` series, one per member tunnel and counter (`serve --metrics-per-peer`).
   * Off, no series carries a peer label; the hub-wide totals stay either way.
   */
  perPeer: boolean;
}

/** Seconds from a config push to its acknowledgement; members answer within milliseconds. */
const ACK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Pushes waiting for an ack are forgotten after this long, and kept at most this many. */
const PENDING_ACK_MS = 300_000;
const MAX_PENDING_ACKS = 16_384;

/**
 * The hub's Prometheus metrics (`/metrics` on the admin listener): peers and sessions, traffic
 * (hub-wide totals, and per peer unless turned off), reconfigurations and ack latency, failed
 * logins and front-door limits, pool use, and the process's own (`process_*`, `nodejs_*`).
 * Everything but the two event-driven series is read at scrape time from one status snapshot, so
 * an idle hub does no work for them.
 */
export class HubMetrics {
  readonly register = new Registry();
  private readonly pendingAcks = new Map<string, number>();
  /** Every member tunnel's counters of this scrape, observed into the totals once. */
  private readonly traffic: () => Promise<TunnelTrafficSample[]>;
  /** The scrape's status snapshot, shared by every series. */
  private readonly status: () => Promise<HubStatus>;
  private readonly perPeer: boolean;
  private readonly onReconfigured: (message: unknown) => void;
  private readonly onAcked: (message: unknown) => void;
  private readonly onDeviceError: (message: unknown) => void;

  constructor(sources: HubMetricsSources) {
    const register = this.register;
    registerProcessMetrics(register);
    const status = oncePerScrape(() => sources.status());
    this.status = status;

    new Gauge({
      name: 'tunnel_peers',
      help: 'Registered peers by state: up (control session open) or down',
      labelNames: ['state'] as const,
      registers: [register],
      async collect() {
        const peers = (await status()).peers;
        const up = peers.filter((peer) => peer.connected).length;
        this.set({ state: 'up' }, up);
        this.set({ state: 'down' }, peers.length - up);
      },
    });
    new Gauge({
      name: 'tunnel_sessions',
      help: 'Open control sessions by transport',
      labelNames: ['transport'] as const,
      registers: [register],
      async collect() {
        const peers = (await status()).peers;
        for (const transport of ['ws', 'ssh'] as const) {
          this.set({ transport }, peers.filter((peer) => peer.connected && peer.transport === transport).length);
        }
      },
    });
    const totals = new HubTrafficTotals();
    this.traffic = oncePerScrape(async () => {
      const samples = (await status()).peers.flatMap((peer): TunnelTrafficSample[] => (
        peer.counters ? [{ peer: peer.name, encap: peer.encap, rx: peer.counters.rx, tx: peer.counters.tx, spoofed: peer.spoofed }] : []
      ));
      totals.observe(samples);
      return samples;
    });
    registerHubTrafficTotals(register, totals, this.traffic);
    this.perPeer = sources.perPeer;
    registerHubEspMetrics(register, status);

    const reconfigurations = new Counter({
      name: 'tunnel_reconfigurations_total',
      help: 'New tunnel specs issued for a link (an endpoint, encapsulation or link changed)',
      registers: [register],
    });
    const ackLatency = new Histogram({
      name: 'tunnel_config_ack_latency_seconds',
      help: 'Time from a config change to the member\'s acknowledgement of it',
      buckets: ACK_BUCKETS,
      registers: [register],
    });
    this.onReconfigured = (message) => {
      const { peer, peerVersion } = message as { peer: string; peerVersion: number };
      reconfigurations.inc();
      this.expectAck(`${peer}|${peerVersion}`);
    };
    this.onAcked = (message) => {
      const { peer, version } = message as { peer: string; version: number };
      const key = `${peer}|${version}`;
      const sentAt = this.pendingAcks.get(key);
      if (sentAt === undefined) return;
      this.pendingAcks.delete(key);
      ackLatency.observe((performance.now() - sentAt) / 1000);
    };
    subscribe('tunnel:session:reconfigured', this.onReconfigured);
    subscribe('tunnel:session:acked', this.onAcked);

    // By cause only (a handful of values), never by peer: thousands of refused members are one series.
    const deviceErrors = new Counter({
      name: 'tunnel_hub_device_errors_total',
      help: 'Member tunnel devices the kernel refused, by cause: name-clash (another process\'s interface holds the name), limit (descriptors, memory), permission, kernel (anything else)',
      labelNames: ['cause'] as const,
      registers: [register],
    });
    for (const cause of DEVICE_ERROR_CAUSES) deviceErrors.inc({ cause }, 0);
    this.onDeviceError = (message) => deviceErrors.inc({ cause: (message as { cause: DeviceErrorCause }).cause });
    subscribe(hubDeviceErrorChannel.name, this.onDeviceError);

    new Counter({
      name: 'tunnel_auth_failures_total',
      help: 'Failed logins by front door and error code',
      labelNames: ['door', 'code'] as const,
      registers: [register],
      collect() {
        this.reset();
        for (const gate of sources.gates) {
          for (const [code, count] of Object.entries(gate.stats().authFailures)) this.inc({ door: gate.door, code }, count);
        }
      },
    });
    registerGateMetrics(register, sources.gates);
    registerShortcutMetrics(register, status);

    const pools = oncePerScrape(() => sources.pools());
    new Gauge({
      name: 'tunnel_pool_subnets',
      help: 'Link /30 subnets a pool holds',
      labelNames: ['pool'] as const,
      registers: [register],
      async collect() {
        this.reset();
        for (const pool of await pools()) this.set({ pool: pool.cidr }, pool.subnets);
      },
    });
    new Gauge({
      name: 'tunnel_pool_used_subnets',
      help: 'Link /30 subnets of a pool handed out',
      labelNames: ['pool'] as const,
      registers: [register],
      async collect() {
        this.reset();
        for (const pool of await pools()) this.set({ pool: pool.cidr }, pool.used);
      },
    });
  }

  /** The Prometheus text exposition: prom-client's registry, then the per-peer families (traffic, encryption) when they are on. */
  async metrics(): Promise<string> {
    // Started together, so all read the same status snapshot.
    const [text, traffic, status] = await Promise.all([this.register.metrics(), this.perPeer ? this.traffic() : undefined, this.perPeer ? this.status() : undefined]);
    return traffic === undefined || status === undefined ? text : text + formatTunnelTraffic(traffic) + formatPeerEsp(status.peers);
  }

  /** The content type of {@link metrics}. */
  get contentType(): string {
    return this.register.contentType;
  }

  /** Stops listening to the control plane's events. */
  close(): void {
    unsubscribe('tunnel:session:reconfigured', this.onReconfigured);
    unsubscribe('tunnel:session:acked', this.onAcked);
    unsubscribe(hubDeviceErrorChannel.name, this.onDeviceError);
    this.pendingAcks.clear();
  }

  private expectAck(key: string): void {
    const now = performance.now();
    if (this.pendingAcks.size >= MAX_PENDING_ACKS) {
      for (const [old, at] of this.pendingAcks) {
        if (now - at > PENDING_ACK_MS || this.pendingAcks.size >= MAX_PENDING_ACKS) this.pendingAcks.delete(old);
        else break;
      }
    }
    this.pendingAcks.set(key, now);
  }
}

/** The front doors' limits: what is open, admitted, refused and why, timed out, and waiting. */
function registerGateMetrics(register: Registry, gates: readonly ConnectionGate[]): void {
  const gauge = (name: string, help: string, read: (stats: ReturnType<ConnectionGate['stats']>) => number): void => {
    new Gauge({
      name, help, labelNames: ['door'] as const, registers: [register],
      collect() {
        for (const gate of gates) this.set({ door: gate.door }, read(gate.stats()));
      },
    });
  };
  gauge('tunnel_frontdoor_open_connections', 'Connections open on a front door', (stats) => stats.open);
  gauge('tunnel_frontdoor_pending_connections', 'Connections on a front door not authenticated yet', (stats) => stats.pending);
  gauge('tunnel_frontdoor_blocked_sources', 'Sources waiting after repeated failed logins', (stats) => stats.blocked);
  new Counter({
    name: 'tunnel_frontdoor_accepted_connections_total',
    help: 'Connections a front door let in',
    labelNames: ['door'] as const,
    registers: [register],
    collect() {
      this.reset();
      for (const gate of gates) this.inc({ door: gate.door }, gate.stats().accepted);
    },
  });
  new Counter({
    name: 'tunnel_frontdoor_refused_connections_total',
    help: 'Connections a front door closed at once: over the per-source rate (rate), a cap (door-full, door-pending, source-full, source-pending), or after failed logins (login-backoff)',
    labelNames: ['door', 'reason'] as const,
    registers: [register],
    collect() {
      this.reset();
      for (const gate of gates) {
        const { refused } = gate.stats();
        for (const reason of REFUSAL_REASONS) this.inc({ door: gate.door, reason }, refused[reason]);
      }
    },
  });
  new Counter({
    name: 'tunnel_frontdoor_timeouts_total',
    help: 'Connections ended for taking too long to authenticate (handshake) or staying silent (idle)',
    labelNames: ['door', 'phase'] as const,
    registers: [register],
    collect() {
      this.reset();
      for (const gate of gates) {
        const { timeouts } = gate.stats();
        this.inc({ door: gate.door, phase: 'handshake' }, timeouts.handshake);
        this.inc({ door: gate.door, phase: 'idle' }, timeouts.idle);
      }
    },
  });
}

/** Shortcuts the running hub made, failed by reason and removed by reason since it started (`status().shortcuts.counts`). */
function registerShortcutMetrics(register: Registry, status: () => Promise<HubStatus>): void {
  new Counter({
    name: 'tunnel_shortcuts_made_total',
    help: 'Shortcuts (direct links for busy member pairs) the hub made',
    registers: [register],
    async collect() {
      this.reset();
      this.inc((await status()).shortcuts?.counts.made ?? 0);
    },
  });
  for (const [name, help, key] of [
    ['tunnel_shortcuts_failed_total', 'Shortcuts that did not come up or stopped working, by reason', 'failed'],
    ['tunnel_shortcuts_removed_total', 'Shortcuts removed, by reason', 'removed'],
  ] as const) {
    new Counter({
      name, help, labelNames: ['reason'] as const, registers: [register],
      async collect() {
        this.reset();
        for (const [reason, count] of Object.entries((await status()).shortcuts?.counts[key] ?? {})) this.inc({ reason }, count);
      },
    });
  }
}

