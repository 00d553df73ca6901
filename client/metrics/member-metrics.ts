import { Counter, Gauge, Registry } from 'prom-client';
import type { TunnelStatus } from '../../shared/datapath/datapath-engine.js';
import { registerProcessMetrics } from '../../shared/metrics/process-metrics.js';
import { formatTunnelTraffic, oncePerScrape, type TunnelTrafficSample } from '../../shared/metrics/tunnel-traffic-metrics.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { WireLinkTable } from '../../shared/protocol/index.js';
import type { MemberEvents } from '../session/run-member.js';

/**
 * A member's Prometheus metrics (`tunnel-client join|run --metrics ADDR:PORT`): the same
 * per-tunnel series as the hub's (`tunnel_peer_*`, labelled by the other end and the
 * encapsulation), whether each tunnel is up, the session to the hub, applied configs, and the
 * process's own metrics.
 */
export class MemberMetrics {
  readonly register = new Registry();
  /** Feed these to runMember. */
  readonly events: MemberEvents;
  private peers = new Map<string, string>();
  private readonly traffic: () => Promise<TunnelTrafficSample[]>;

  constructor(tunnels: () => readonly TunnelStatus[]) {
    const register = this.register;
    registerProcessMetrics(register);
    const sample = oncePerScrape(tunnels);
    const peerOf = (name: string): string => this.peers.get(name) ?? name.replace(/^tnl-/, '');
    this.traffic = async () => (await sample()).map((tunnel) => ({
      peer: peerOf(tunnel.name), encap: tunnel.encap, rx: tunnel.rx, tx: tunnel.tx, spoofed: tunnel.sources === null ? null : tunnel.spoofed,
    }));
    new Gauge({
      name: 'tunnel_peer_up',
      help: 'Whether the tunnel to the peer answers its keepalives (1) or not (0)',
      labelNames: ['peer', 'encap'] as const,
      registers: [register],
      async collect() {
        this.reset();
        for (const tunnel of await sample()) this.set({ peer: peerOf(tunnel.name), encap: tunnel.encap }, tunnel.state === 'down' ? 0 : 1);
      },
    });
    const connected = new Gauge({ name: 'tunnel_hub_connected', help: 'Whether the control session to the hub is open (1) or not (0)', registers: [register] });
    const sessions = new Counter({ name: 'tunnel_hub_sessions_total', help: 'Control sessions the hub welcomed (reconnects included)', registers: [register] });
    const applied = new Counter({ name: 'tunnel_config_applied_total', help: 'Configs from the hub applied to the tunnels', registers: [register] });
    const version = new Gauge({ name: 'tunnel_config_version', help: 'Version of the config last applied', registers: [register] });
    connected.set(0);
    this.events = {
      welcomed: () => {
        connected.set(1);
        sessions.inc();
      },
      ended: () => connected.set(0),
      applied: (config, peer) => {
        applied.inc();
        version.set(config.version);
        this.peers = otherEnds(config.links, peer);
      },
    };
  }

  /** The Prometheus text exposition. */
  async metrics(): Promise<string> {
    const [text, traffic] = await Promise.all([this.register.metrics(), this.traffic()]);
    return text + formatTunnelTraffic(traffic);
  }

  /** The content type of {@link metrics}. */
  get contentType(): string {
    return this.register.contentType;
  }
}

/** Interface name -> the name of the link's other end, from the config's /30 tables. */
function otherEnds(links: readonly WireLinkTable[], me: string): Map<string, string> {
  const peers = new Map<string, string>();
  for (const link of links) {
    const other = link.ends[0].name === me ? link.ends[1].name : link.ends[0].name;
    peers.set(tunnelInterfaceName(other), other);
  }
  return peers;
}
