import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import type { ClientDatapath } from '../../client/session/client-datapath.js';

/** A member datapath that records what the session applied, for tests without TUN devices. */
export class MemoryClientDatapath implements ClientDatapath {
  readonly tunnels = new Map<string, WireTunnelSpec>();
  readonly applied: WireTunnelSpec[][] = [];

  async apply(tunnels: readonly WireTunnelSpec[]): Promise<void> {
    this.tunnels.clear();
    for (const tunnel of tunnels) this.tunnels.set(tunnel.name, tunnel);
    this.applied.push([...tunnels]);
  }

  async close(): Promise<void> {
    this.tunnels.clear();
  }
}
