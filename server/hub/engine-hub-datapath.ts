import type { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { applyWireSpec } from '../../shared/protocol/apply-wire-spec.js';
import type { HubBindingStatus, HubDatapath, TunnelTraffic } from '../control/hub-datapath.js';

/** The hub's tunnel ends on the real datapath engine: one TUN per hub<->peer link. */
export class EngineHubDatapath implements HubDatapath {
  constructor(private readonly engine: DatapathEngine) {}

  async upsert(spec: WireTunnelSpec): Promise<void> {
    applyWireSpec(this.engine, spec);
  }

  async remove(name: string): Promise<void> {
    if (this.engine.status().some((tunnel) => tunnel.name === name)) this.engine.removeTunnel(name);
  }

  traffic(name: string): TunnelTraffic | undefined {
    const status = this.engine.status().find((tunnel) => tunnel.name === name);
    return status && { rx: status.rx, tx: status.tx };
  }

  binding(name: string): HubBindingStatus | undefined {
    const binding = this.engine.status().find((tunnel) => tunnel.name === name)?.binding;
    return binding ? {
      state: binding.state, address: binding.address, port: binding.port, boundAt: binding.boundAt,
      lastHelloAt: binding.lastHelloAt, helloInterval: binding.helloInterval, bindingTimeout: binding.bindingTimeout,
    } : undefined;
  }

  async close(): Promise<void> {
    this.engine.close();
  }
}
