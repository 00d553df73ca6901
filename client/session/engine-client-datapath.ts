import type { DatapathEngine, TunnelStatus } from '../../shared/datapath/datapath-engine.js';
import type { WireLinkPath, WireTunnelSpec } from '../../shared/protocol/index.js';
import { applyWireSpec } from '../../shared/protocol/apply-wire-spec.js';
import type { ClientDatapath } from './client-datapath.js';

/** The client's tunnels on the real datapath engine; only tunnels the hub named are touched. */
export class EngineClientDatapath implements ClientDatapath {
  private readonly managed = new Set<string>();
  private paths = new Map<string, WireLinkPath>();

  constructor(private readonly engine: DatapathEngine) {}

  async apply(tunnels: readonly WireTunnelSpec[], paths: readonly WireLinkPath[] = []): Promise<void> {
    const wanted = new Set(tunnels.map((tunnel) => tunnel.name));
    for (const name of this.managed) {
      if (!wanted.has(name)) {
        this.engine.removeTunnel(name);
        this.managed.delete(name);
      }
    }
    for (const spec of tunnels) {
      applyWireSpec(this.engine, spec);
      this.managed.add(spec.name);
    }
    this.paths = new Map(paths.map((path) => [path.tunnel, path]));
  }

  probe(name: string, timeoutMs: number): Promise<boolean> {
    return this.engine.probe(name, { timeoutMs });
  }

  /** The status and counters of the tunnels the hub drives. */
  tunnels(): TunnelStatus[] {
    return [...this.managed].map((name) => this.engine.tunnelStatus(name));
  }

  /** Why each hub-driven tunnel runs its encapsulation, by interface name. */
  pathOf(name: string): WireLinkPath | undefined {
    return this.paths.get(name);
  }

  async close(): Promise<void> {
    for (const name of this.managed) this.engine.removeTunnel(name);
    this.managed.clear();
  }
}
