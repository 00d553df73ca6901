import type { Logger } from 'pino';
import type { DatapathEngine, TunnelStatus } from '../../shared/datapath/datapath-engine.js';
import { runningStatus } from '../../shared/datapath/upsert-tunnel.js';
import { isTunnelError } from '../../shared/errors.js';
import type { LinkHooks } from '../../shared/hooks/link-hooks.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { applyWireSpec } from '../../shared/protocol/apply-wire-spec.js';
import { installTunnelRoutes } from '../../shared/routing/install-tunnel-routes.js';
import type { KernelRoutes } from '../../shared/routing/kernel-routes.js';
import { applyKernelChange } from '../../shared/system/apply-kernel-change.js';
import { ESP_DROP_REASONS, type HubBindingStatus, type HubDatapath, type TunnelEncryptionStatus, type TunnelLivenessStatus, type TunnelTraffic } from '../control/hub-datapath.js';
import { deviceErrorCause, hubDeviceErrorChannel, HubDeviceError, type DeviceErrorCause } from '../control/hub-device-error.js';
import { HUB_UNREACHABLE_METRIC } from '../routing/member-routes.js';

/** How the hub's datapath takes part in routing (serve --routing). */
export interface HubDatapathRouting {
  /** Turn forwarding on for every tunnel interface ('static'), or leave it to the system ('none'). */
  forward: boolean;
  routes: KernelRoutes;
  log: Logger;
}

/**
 * The hub's tunnel ends on the real datapath engine: one TUN per hub<->peer link. A spec's
 * `routes` go on its interface; with forwarding, each new interface forwards between members; a
 * link hook hears of every end going up, down or changing. A device the kernel refuses costs that
 * member alone: its upsert rejects with a HubDeviceError, logged once per cause.
 */
export class EngineHubDatapath implements HubDatapath {
  private warnedIpv6 = false;
  /** The member behind each interface. */
  private readonly peers = new Map<string, string>();
  private rekeyDue?: (tunnel: string) => void;
  private pathQuietListener?: (peer: string, lastHeardAt: number | null) => void;
  /** Causes of refused devices logged already. */
  private readonly loggedCauses = new Set<DeviceErrorCause>();
  /** Shared devices forwarding was turned on for (serve --member-devices shared). */
  private readonly forwardingShared = new Set<string>();
  /** Error codes of forwarding refusals already logged. */
  private readonly forwardingFailures = new Set<string>();
  /** One status per tunnel per turn: the hub's status asks for several readings of each. */
  private readonly statuses = new Map<string, TunnelStatus | undefined>();

  constructor(private readonly engine: DatapathEngine, private readonly routing: HubDatapathRouting, private readonly hooks?: LinkHooks) {}

  /**
   * Deletes the devices this hub left behind when it was killed (or is still tearing down), before
   * anything is made: every member's device is made anew as it connects.
   */
  async start(): Promise<void> {
    const stale = await this.engine.removeStaleDevices();
    if (stale.length > 0) this.routing.log.info({ devices: stale.length, first: stale.slice(0, 5) }, 'removed the tunnel devices a previous run of this hub left behind');
  }

  async upsert(spec: WireTunnelSpec, peer: string): Promise<void> {
    this.peers.set(spec.name, peer);
    const running = this.engine.tunnelShape(spec.name);
    try {
      await applyWireSpec(this.engine, spec);
    } catch (err) {
      throw this.refused(err, spec.name, peer);
    }
    const device = this.engine.deviceOf(spec.name);
    if (device !== spec.name) {
      await this.upsertShared(spec, device);
      this.stateChanged(spec.name);
      return;
    }
    // A new inner address re-creates the interface: it lost its routes and its forwarding switch.
    const fresh = !running || running.inner !== spec.address || running.peerInner !== spec.peerAddress;
    if (fresh && this.routing.forward) await this.forward(spec.name);
    await installTunnelRoutes(this.routing.routes, spec, fresh, this.routing.log);
    this.stateChanged(spec.name);
  }

  /**
   * A tunnel on the shared member device: forwarding once for the device, the member's prefixes
   * routed to the device in the kernel (kept per tunnel: the device outlives each) and to the
   * tunnel in the device's table.
   */
  private async upsertShared(spec: WireTunnelSpec, device: string): Promise<void> {
    if (this.routing.forward && !this.forwardingShared.has(device)) {
      this.forwardingShared.add(device);
      await this.forward(device);
    }
    try {
      this.engine.setSharedRoutes(spec.name, spec.routes ?? []);
    } catch (err) {
      this.routing.log.warn({ tunnel: spec.name, code: isTunnelError(err) ? err.code : undefined, err: (err as Error).message }, 'the member\'s prefixes could not be routed on the shared device');
    }
    await installTunnelRoutes(this.routing.routes, spec, false, this.routing.log, device);
  }

  /** A refusal of the member's device as a HubDeviceError, counted every time and logged once per cause; anything else as it is. */
  private refused(err: unknown, tunnel: string, peer: string): unknown {
    const cause = deviceErrorCause(err);
    if (cause === undefined || !isTunnelError(err)) return err;
    if (hubDeviceErrorChannel.hasSubscribers) hubDeviceErrorChannel.publish({ cause, code: err.code, tunnel });
    if (!this.loggedCauses.has(cause)) {
      this.loggedCauses.add(cause);
      this.routing.log.warn({ cause, code: err.code, tunnel, peer, err: err.message },
        'the kernel refused a member\'s tunnel device; that member is told, everyone else is served on (further refusals of this cause are counted in tunnel_hub_device_errors_total, not logged)');
    }
    return new HubDeviceError(err, cause);
  }

  /** Forwarding on for a new tunnel interface; a refusal is logged (the tunnel runs, routing between members does not). */
  private async forward(name: string): Promise<void> {
    try {
      if ((await applyKernelChange({ kind: 'enable-forwarding', link: name })).ipv6Forwarding === 'all-interfaces' && !this.warnedIpv6) {
        this.warnedIpv6 = true;
        this.routing.log.warn({ tunnel: name }, 'this kernel has no per-interface IPv6 forwarding (force_forwarding, Linux 6.17): turned net.ipv6.conf.all.forwarding on');
      }
    } catch (err) {
      // Once per code: a descriptor or kernel limit would otherwise log a line for every member.
      const code = isTunnelError(err) ? err.code : 'unknown';
      if (this.forwardingFailures.has(code)) return;
      this.forwardingFailures.add(code);
      this.routing.log.warn({ tunnel: name, code, err: (err as Error).message },
        'could not turn forwarding on for a member tunnel; members will not reach each other through it (further failures with this code are not logged)');
    }
  }

  async remove(name: string): Promise<void> {
    const device = this.engine.has(name) ? this.engine.deviceOf(name) : name;
    if (this.engine.has(name)) await this.engine.removeTunnel(name);
    this.statuses.delete(name);
    // A shared device outlives the tunnel: its routes to the member go one by one.
    if (device !== name) await this.routing.routes.setDevice(name, [], 0, false, device).catch(() => undefined);
    this.routing.routes.forgetDevice(name);
    this.peers.delete(name);
    this.hooks?.removed(name);
  }

  onRekeyDue(due: (tunnel: string) => void): void {
    this.rekeyDue = due;
  }

  /** The engine says a tunnel's outbound SA passed its rekey sequence (wired by whoever made the engine). */
  rekeyIsDue(name: string): void {
    this.rekeyDue?.(name);
  }

  onPathQuiet(quiet: (peer: string, lastHeardAt: number | null) => void): void {
    this.pathQuietListener = quiet;
  }

  /** The engine says a tunnel stopped hearing its remote (wired by whoever made the engine): its member's session hears of it. */
  pathQuiet(name: string, lastHeardAt: number | null): void {
    const peer = this.peers.get(name);
    if (peer !== undefined) this.pathQuietListener?.(peer, lastHeardAt);
  }

  /** A tunnel's liveness or binding changed: the hook hears of it. */
  stateChanged(name: string): void {
    const peer = this.peers.get(name);
    if (this.hooks && peer !== undefined && this.engine.has(name)) this.hooks.observe(this.engine.tunnelStatus(name), peer);
  }

  async routeUnreachable(prefixes: readonly string[]): Promise<void> {
    try {
      await this.routing.routes.setUnreachable(prefixes, HUB_UNREACHABLE_METRIC);
    } catch (err) {
      // A fallback the kernel refuses (IPv6 turned off) leaves routing as it is otherwise.
      this.routing.log.warn({ err: (err as Error).message }, 'not every unreachable fallback route could be installed');
    }
  }

  traffic(name: string): TunnelTraffic | undefined {
    const status = this.statusOf(name);
    return status && {
      rx: status.rx, tx: status.tx, ...(status.fastPath ? { fastPath: status.fastPath } : {}), ...(status.device !== status.name ? { device: status.device } : {}),
    };
  }

  liveness(name: string): TunnelLivenessStatus | undefined {
    const status = this.statusOf(name);
    const heard = status?.liveness.lastHeardAt;
    return status && { state: status.state, tracked: status.liveness.tracked, lastHeardAt: heard ? Date.parse(heard) : null };
  }

  pathHeardAt(name: string): number | null {
    return this.engine.pathHeardAt(name);
  }

  drainBusyDestinations(): ReadonlyMap<string, { address: string; bytes: number }[]> {
    return this.engine.drainBusyDestinations();
  }

  spoofed(name: string): number | undefined {
    return this.statusOf(name)?.spoofed;
  }

  routes(name: string): string[] {
    return this.routing.routes.routesOf(name);
  }

  encryption(name: string): TunnelEncryptionStatus | undefined {
    const status = this.statusOf(name);
    if (!status) return undefined;
    const dropsByReason: Record<string, number> = {};
    for (const reason of ESP_DROP_REASONS) dropsByReason[reason] = status.dropsByReason[reason] ?? 0;
    return { encrypted: status.encrypted, aead: status.aead, spiIn: status.spiIn, spiOut: status.spiOut, saAgeSeconds: status.saAgeSeconds, dropsByReason };
  }

  binding(name: string): HubBindingStatus | undefined {
    const binding = this.statusOf(name)?.binding;
    return binding ? {
      state: binding.state, address: binding.address, port: binding.port, boundAt: binding.boundAt,
      lastHelloAt: binding.lastHelloAt, helloInterval: binding.helloInterval, bindingTimeout: binding.bindingTimeout,
    } : undefined;
  }

  /**
   * One tunnel's status, or undefined when it does not run. Looked up by name, and once per turn
   * of the event loop: the hub's status asks this for every peer, several readings each, and
   * building every tunnel's status each time made one status report (the live page's each
   * second, every scrape) grow with the square of the members.
   */
  private statusOf(name: string): TunnelStatus | undefined {
    if (this.statuses.has(name)) return this.statuses.get(name);
    this.forgetStatusesAfterTurn();
    const status = runningStatus(this.engine, name);
    this.statuses.set(name, status);
    return status;
  }

  readAllStatuses(): void {
    this.forgetStatusesAfterTurn();
    for (const status of this.engine.status()) this.statuses.set(status.name, status);
  }

  /** The statuses looked up in this turn are forgotten when it ends (the first one of a turn arranges it). */
  private forgetStatusesAfterTurn(): void {
    if (this.statuses.size === 0) setImmediate(() => this.statuses.clear());
  }

  async close(): Promise<void> {
    await this.engine.close();
    try {
      await this.routing.routes.clearUnreachable();
    } catch (err) {
      this.routing.log.warn({ err: (err as Error).message }, 'could not take the unreachable routes out');
    }
  }
}
