import { tunnelSpecSchema, type WireTunnelSpec } from '../../shared/protocol/index.js';
import type { HubDatapath, TunnelLivenessStatus, TunnelTraffic } from '../control/hub-datapath.js';

/**
 * A hub datapath that keeps specs in memory and moves no packets: for integration tests and the
 * load benchmark, which run without root or TUN devices. It still validates every spec against
 * the wire schema, so a malformed spec fails here as it would in the engine.
 */
export class MemoryDatapath implements HubDatapath {
  /** The spec each tunnel runs now. */
  readonly tunnels = new Map<string, WireTunnelSpec>();
  /**
   * How many specs were applied, for tests that check whether the hub reconfigured. A count, not
   * a list: `serve --datapath none` runs for hours under load benchmarks, and a list grew with
   * every reconfiguration.
   */
  upserts = 0;
  /** The unreachable fallback routes last asked for. */
  unreachable: readonly string[] = [];
  /**
   * Encapsulations whose keepalives go unanswered (as behind a firewall that drops them): tunnels
   * running one read `down`, every other tunnel `up`. Tests add to it.
   */
  readonly unanswered = new Set<string>();

  async upsert(spec: WireTunnelSpec, _peer: string): Promise<void> {
    const valid = tunnelSpecSchema.parse(spec);
    this.tunnels.set(valid.name, valid);
    this.upserts += 1;
  }

  async remove(name: string): Promise<void> {
    this.tunnels.delete(name);
  }

  async routeUnreachable(prefixes: readonly string[]): Promise<void> {
    this.unreachable = [...prefixes];
  }

  routes(name: string): string[] {
    return [...(this.tunnels.get(name)?.routes ?? [])];
  }

  spoofed(name: string): number | undefined {
    return this.tunnels.has(name) ? 0 : undefined;
  }

  liveness(name: string): TunnelLivenessStatus | undefined {
    const spec = this.tunnels.get(name);
    if (!spec) return undefined;
    const tracked = spec.keepaliveInterval !== 0 && spec.encap !== 'ipip';
    return { state: tracked && this.unanswered.has(spec.encap) ? 'down' : 'up', tracked, lastHeardAt: null };
  }

  traffic(name: string): TunnelTraffic | undefined {
    if (!this.tunnels.has(name)) return undefined;
    const zero = { packets: 0, bytes: 0, errors: 0, dropped: 0 };
    return { rx: { ...zero }, tx: { ...zero } };
  }

  async close(): Promise<void> {
    this.tunnels.clear();
  }
}
