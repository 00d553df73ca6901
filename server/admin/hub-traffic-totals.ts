import { Counter, type Registry } from 'prom-client';
import { TUNNEL_TRAFFIC_SERIES, type TunnelTrafficSample } from '../../shared/metrics/tunnel-traffic-metrics.js';

/** Each per-peer series' hub-wide total: `tunnel_peer_receive_bytes_total` -> `tunnel_receive_bytes_total`. */
export const HUB_TRAFFIC_TOTALS = TUNNEL_TRAFFIC_SERIES.map((series) => ({
  name: series.name.replace(/^tunnel_peer_/, 'tunnel_'),
  help: `Over every member tunnel of the hub, by encapsulation: ${series.help.charAt(0).toLowerCase()}${series.help.slice(1)}`,
}));

/**
 * Hub-wide traffic totals that only ever grow, whatever happens to single tunnels: a sum of the
 * live tunnels' counters would fall when a member leaves, which Prometheus reads as a reset of
 * the whole hub. Each scrape adds what every tunnel counted since the one before (all of it when
 * the tunnel is new or started again from zero); a tunnel that is gone keeps what it added.
 */
export class HubTrafficTotals {
  /** Per encapsulation, one running total per series of TUNNEL_TRAFFIC_SERIES. */
  private readonly totals = new Map<string, number[]>();
  /** Per peer, the values its tunnel had at the last scrape. */
  private last = new Map<string, number[]>();

  /** Adds what each tunnel counted since the last call. */
  observe(samples: readonly TunnelTrafficSample[]): void {
    const next = new Map<string, number[]>();
    for (const sample of samples) {
      const values = TUNNEL_TRAFFIC_SERIES.map((series) => series.field(sample) ?? 0);
      const before = this.last.get(sample.peer);
      let sums = this.totals.get(sample.encap);
      if (sums === undefined) {
        sums = values.map(() => 0);
        this.totals.set(sample.encap, sums);
      }
      for (const [i, value] of values.entries()) {
        const previous = before?.[i] ?? 0;
        sums[i] = (sums[i] ?? 0) + (value >= previous ? value - previous : value);
      }
      next.set(sample.peer, values);
    }
    this.last = next;
  }

  /** The totals of series `index` of TUNNEL_TRAFFIC_SERIES, by encapsulation. */
  of(index: number): [encap: string, total: number][] {
    return [...this.totals].map(([encap, sums]) => [encap, sums[index] ?? 0]);
  }
}

/**
 * Registers the hub-wide totals ({@link HUB_TRAFFIC_TOTALS}, labelled `encap` only), which stay
 * whether or not the per-peer series are exported. `traffic` must observe each scrape's samples
 * into `totals` once before it resolves.
 */
export function registerHubTrafficTotals(register: Registry, totals: HubTrafficTotals, traffic: () => Promise<unknown>): void {
  HUB_TRAFFIC_TOTALS.forEach((series, index) => {
    new Counter({
      name: series.name,
      help: series.help,
      labelNames: ['encap'] as const,
      registers: [register],
      async collect() {
        await traffic();
        this.reset();
        for (const [encap, total] of totals.of(index)) this.inc({ encap }, total);
      },
    });
  });
}
