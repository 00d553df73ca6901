import type { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { upsertTunnel } from '../../shared/datapath/upsert-tunnel.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import type { ClientDatapath } from './client-datapath.js';

/** The client's tunnels on the real datapath engine; only tunnels the hub named are touched. */
export class EngineClientDatapath implements ClientDatapath {
  private readonly managed = new Set<string>();

  constructor(private readonly engine: DatapathEngine) {}

  async apply(tunnels: readonly WireTunnelSpec[]): Promise<void> {
    const wanted = new Set(tunnels.map((tunnel) => tunnel.name));
    for (const name of this.managed) {
      if (!wanted.has(name)) {
        this.engine.removeTunnel(name);
        this.managed.delete(name);
      }
    }
    for (const spec of tunnels) {
      upsertTunnel(this.engine, spec);
      this.managed.add(spec.name);
    }
  }

  async close(): Promise<void> {
    for (const name of this.managed) this.engine.removeTunnel(name);
    this.managed.clear();
  }
}
