import type { Logger } from 'pino';
import type { DatapathEngine, TunnelStatus } from '../../shared/datapath/datapath-engine.js';
import type { LinkHooks } from '../../shared/hooks/link-hooks.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { WireLinkPath, WireLinkTable, WireTunnelSpec } from '../../shared/protocol/index.js';
import { applyWireSpec } from '../../shared/protocol/apply-wire-spec.js';
import { runningStatus } from '../../shared/datapath/upsert-tunnel.js';
import { installTunnelRoutes } from '../../shared/routing/install-tunnel-routes.js';
import type { KernelRoutes } from '../../shared/routing/kernel-routes.js';
import type { ClientDatapath } from './client-datapath.js';

/**
 * The client's tunnels on the real datapath engine; only tunnels the hub named are touched. Each
 * tunnel's `routes` go on its interface at its `routeMetric`, and leave with it; a link hook hears
 * of every tunnel going up, down or changing.
 */
export class EngineClientDatapath implements ClientDatapath {
  private readonly managed = new Set<string>();
  private paths = new Map<string, WireLinkPath>();
  /** The other end's name per interface (from the link tables), for hooks. */
  private peers = new Map<string, string>();
  private rekeyDue?: (name: string) => void;
  /** The spec each managed tunnel runs. */
  private readonly specs = new Map<string, WireTunnelSpec>();
  private readonly livenessListeners: ((name: string) => void)[] = [];

  constructor(private readonly engine: DatapathEngine, private readonly routes: KernelRoutes, private readonly log: Logger,
    private readonly hooks?: LinkHooks) {}

  async apply(tunnels: readonly WireTunnelSpec[], paths: readonly WireLinkPath[] = [], links: readonly WireLinkTable[] = []): Promise<void> {
    for (const link of links) for (const end of link.ends) this.peers.set(tunnelInterfaceName(end.name), end.name);
    this.paths = new Map(paths.map((path) => [path.tunnel, path]));
    const wanted = new Set(tunnels.map((tunnel) => tunnel.name));
    for (const name of this.managed) {
      if (!wanted.has(name)) await this.removeManaged(name);
    }
    for (const spec of tunnels) {
      const running = runningStatus(this.engine, spec.name);
      await applyWireSpec(this.engine, spec);
      this.managed.add(spec.name);
      this.specs.set(spec.name, spec);
      // A new inner address re-creates the interface, and its routes went with the old one.
      const fresh = !running || running.inner !== spec.address || running.peerInner !== spec.peerAddress;
      await installTunnelRoutes(this.routes, spec, fresh, this.log);
      this.stateChanged(spec.name);
    }
  }

  onRekeyDue(due: (name: string) => void): void {
    this.rekeyDue = due;
  }

  /** The engine says a hub-driven tunnel's outbound SA passed its rekey sequence. */
  rekeyIsDue(name: string): void {
    if (this.managed.has(name)) this.rekeyDue?.(name);
  }

  /**
   * A tunnel's liveness or path MTU changed: the hook hears of it, and listeners of liveness. A
   * shortcut that went down loses its routes at once (traffic falls back to the hub's), before the
   * hub, told by the member, removes it.
   */
  stateChanged(name: string): void {
    if (!this.managed.has(name) || !this.engine.has(name)) return;
    const status = this.engine.tunnelStatus(name);
    if (status.state === 'down' && this.paths.get(name)?.kind === 'shortcut' && this.routes.routesOf(name).length > 0) {
      this.log.info({ tunnel: name }, 'shortcut down: its routes go, traffic goes back through the hub');
      void installTunnelRoutes(this.routes, { ...this.specs.get(name)!, routes: [] }, false, this.log);
    }
    this.hooks?.observe(status, this.peerOf(name));
    for (const listener of this.livenessListeners) listener(name);
  }

  onLivenessChange(listener: (name: string) => void): void {
    this.livenessListeners.push(listener);
  }

  linkState(name: string): { state: 'up' | 'down'; rxBytes: number; txBytes: number } | undefined {
    if (!this.managed.has(name) || !this.engine.has(name)) return undefined;
    const status = this.engine.tunnelStatus(name);
    return { state: status.state, rxBytes: status.rx.bytes, txBytes: status.tx.bytes };
  }

  pathHeardAt(name: string): number | null {
    return this.managed.has(name) ? this.engine.pathHeardAt(name) : null;
  }

  probe(name: string, timeoutMs: number): Promise<boolean> {
    return this.engine.probe(name, { timeoutMs });
  }

  /** The status and counters of the tunnels the hub drives. */
  tunnels(): TunnelStatus[] {
    return [...this.managed].filter((name) => this.engine.has(name)).map((name) => this.engine.tunnelStatus(name));
  }

  /** Why each hub-driven tunnel runs its encapsulation, by interface name. */
  pathOf(name: string): WireLinkPath | undefined {
    return this.paths.get(name);
  }

  /** The prefixes routed through a hub-driven tunnel. */
  routesOf(name: string): string[] {
    return this.routes.routesOf(name);
  }

  async close(): Promise<void> {
    for (const name of this.managed) await this.removeManaged(name);
  }

  private async removeManaged(name: string): Promise<void> {
    if (this.engine.has(name)) await this.engine.removeTunnel(name);
    this.routes.forgetDevice(name);
    this.managed.delete(name);
    this.specs.delete(name);
    this.hooks?.removed(name);
  }

  private peerOf(name: string): string {
    return this.peers.get(name) ?? name.replace(/^tnl-/, '');
  }
}
