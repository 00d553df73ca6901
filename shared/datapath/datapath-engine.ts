import { randomInt } from 'node:crypto';
import { TunnelError } from '../errors.js';
import type { KernelChange } from '../system/kernel-change.js';
import type { DatapathIo, TunEndpoint } from './datapath-io.js';
import { DestinationTally, type DestinationCount } from './destination-tally.js';
import type { DeviceOwner } from './device-owner.js';
import { DEFAULT_PATH_MTU, planEncapsulation, type EncapsulationPlan, type OuterTransport } from './encapsulation-plan.js';
import { FastRouteAbsorber, FastRouteSync } from './fast-route-sync.js';
import { receiveFromOuter } from './outer-receive.js';
import { OuterSocket } from './outer-socket.js';
import { PathMtuWatch, type PathMtuEvent } from './path-mtu-watch.js';
import { TunnelCounters } from './tunnel-counters.js';
import { followKeepaliveSpec, Keepalives, sendKeepalive } from './tunnel-keepalive.js';
import { TunnelLiveness, type LivenessEvent } from './tunnel-liveness.js';
import { claimProblem, tunnelPath } from './tunnel-path.js';
import { TunnelProbes } from './tunnel-probe.js';
import { TunnelSecurityAssociations, type EspFactory, type PreparedSas, type RekeyDueEvent } from './tunnel-security-associations.js';
import { applyTunnelUpdate, sameAuth, validateTunnelSpec, type TunnelSpec, type TunnelSpecInput, type TunnelUpdate } from './tunnel-spec.js';
import { socketStatusOf, tunnelStatusOf, type OuterSocketStatus, type TunnelStatus } from './tunnel-status.js';
import { transmitFromTun } from './tunnel-transmit.js';
import { Tunnel, type TunnelBatches, type TunnelParts, type TunnelPath, type TunnelSocket } from './tunnel.js';
import type { BindingEvent } from './udp-binding-event.js';
import { followMemberAuth } from './udp-binding-member.js';

export type { BindingStatus } from './binding-status.js';
export type { OuterSocketStatus, TunnelStatus } from './tunnel-status.js';
export type { RekeyDueEvent } from './tunnel-security-associations.js';

/** Packets per batch: one JS↔native crossing moves up to this many. */
export const BATCH_CAPACITY = 64;

/** Bytes per batch slot: an Ethernet-sized packet plus headroom, with room to spare. */
export const SLOT_SIZE = 2048;

const REPLY_CAPACITY = 8;
const CONTROL_CAPACITY = 1;
/** Keepalives are short (at most a few dozen bytes): a tick's worth of them fits small slots. */
const KEEPALIVE_SLOT_SIZE = 256;

/** The IP protocol of each raw outer transport. */
const RAW_PROTOCOL = { gre: 47, ipip: 4, ipv6: 41, esp: 50 } as const;

/** How often the engine adds what ESP SAs counted to their tunnels and checks for a due rekey. */
export const ESP_WATCH_INTERVAL_MS = 1000;

/** Options of the engine. */
export interface DatapathEngineOptions {
  /** Outer path MTU used to derive tunnel MTUs (default 1500). */
  pathMtu?: number;
  /** Called on every liveness change (also published on `tunnel:datapath:liveness`). */
  onLiveness?: (event: LivenessEvent) => void;
  /** Called when a hub-role tunnel is bound, moved or unbound (also on `tunnel:datapath:binding`). */
  onBinding?: (event: BindingEvent) => void;
  /** Called when a tunnel's outer path MTU changed (ICMP on the path, or the kernel's estimate), and so its MTU. */
  onPathMtu?: (event: PathMtuEvent) => void;
  /**
   * Called once per outbound ESP SA when its sequence number passes the spec's `esp.rekeySequence`
   * (2^31 by default): time to install the next SA. Checked every ESP_WATCH_INTERVAL_MS and on status.
   */
  onRekeyDue?: (event: RekeyDueEvent) => void;
  /**
   * Let the I/O's fast routes move the common packets without waking JS (default true). Off, every
   * packet goes through the JS path; the wire behaviour is the same either way.
   */
  fastPath?: boolean;
  /**
   * Count received bytes per inner destination on every tunnel, on the fast path as in JS (a hub
   * finding member pairs worth a shortcut; drainDestinations). Default false.
   */
  tallyDestinations?: boolean;
  /**
   * Whose devices the engine makes (device-owner.ts): each is opened exclusively (a name someone
   * else holds is ERR_ALREADY_EXISTS, never taken over) and marked with the owner's link group and
   * alias; removeStaleDevices finds this owner's leftovers, and close() deletes all of the
   * engine's devices in one request. Without one (a member), devices are plain.
   */
  owner?: DeviceOwner;
}

/** Default time a probe waits for its answer. */
export const DEFAULT_PROBE_TIMEOUT_MS = 1000;

/**
 * The userspace datapath: many tunnels in one process, each with its own TUN device, sharing
 * outer sockets (one raw socket per protocol and local address, one UDP socket per local address
 * and port). Each tunnel's state belongs to its Tunnel and the owners it holds (placement,
 * member end, fast route); the engine only decides what changes, in the order update() documents.
 *
 * Adding, updating and removing a tunnel are asynchronous: the kernel's part (making the device,
 * its MTU, address, up, removing it) runs off the event loop, in batches with the other tunnels'
 * changes of the same turn. Each either completes or rejects with a coded TunnelError leaving the
 * engine as it was; the work on one tunnel runs in the order it was asked for, one after the
 * other, while the work on different tunnels overlaps. Status, probes and packets never wait.
 */
export class DatapathEngine {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly sockets = new Map<string, OuterSocket>();
  private readonly pathMtu: number;
  private readonly pathMtus: PathMtuWatch;
  // Scratch space of the receive path, shared by every socket (callbacks never nest).
  private readonly targets: (Tunnel | null)[] = new Array<Tunnel | null>(BATCH_CAPACITY).fill(null);
  private readonly touched: Tunnel[] = [];
  private readonly emitBinding = (event: BindingEvent): void => this.options.onBinding?.(event);
  /** The JS packet path's batches, one set for every tunnel. */
  readonly #batches: TunnelBatches;
  readonly #absorber: FastRouteAbsorber;
  readonly #keepalives: Keepalives;
  /** Per tunnel name, the end of the work asked for it so far. */
  readonly #work = new Map<string, Promise<void>>();
  /** Names an exclusive open found held by another owner's device (looked up once, not on every retry). */
  readonly #foreign = new Set<string>();
  #closing = false;
  #espWatch: NodeJS.Timeout | null = null;

  constructor(private readonly io: DatapathIo, private readonly options: DatapathEngineOptions = {}) {
    this.pathMtu = options.pathMtu ?? DEFAULT_PATH_MTU;
    this.pathMtus = new PathMtuWatch(io, this.tunnels, this.pathMtu, (tunnel, work) => void this.#serial(tunnel.spec.name, work).catch(() => undefined),
      (event) => this.options.onPathMtu?.(event));
    this.#batches = {
      fromTun: io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE),
      toTun: io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE),
      replies: io.createPacketBatch(REPLY_CAPACITY, SLOT_SIZE),
    };
    this.#absorber = new FastRouteAbsorber(io.readFastRouteCounters?.bind(io));
    this.#keepalives = new Keepalives((tunnels) => this.#absorber.absorb(tunnels));
  }

  /** Creates a tunnel: its TUN (MTU, address, up), its place in a shared outer socket, its keepalive. */
  async addTunnel(input: TunnelSpecInput): Promise<TunnelStatus> {
    const spec = validateTunnelSpec(input);
    return this.#serial(spec.name, () => this.#add(spec));
  }

  /**
   * Changes a running tunnel's remote, local address, ports, key, encapsulation, MTU, TTL or
   * keepalive without touching its TUN device (only its MTU when that changes). Packets already
   * read keep the old settings; the next batch uses the new ones. A new outer path (remote, local,
   * encapsulation) forgets the path MTU ICMP reported on the old one.
   *
   * The order, and why:
   * 1. prepareMove: validate, plan, open new sockets, check no other tunnel holds the new place,
   *    set the TUN's MTU (and check the place again: the kernel took a while). All that can fail
   *    happens here, before the tunnel changed, so a refusal leaves it as it was (sockets opened
   *    for it are closed again, the MTU set back).
   * 2. tunnel.retarget: the old placement leaves first (its entries are keyed by the old remote;
   *    a hub binding that carries over stays), the sockets change users, the new path and
   *    placement take over, the fast route follows.
   * 3. Sockets the tunnel left close when no tunnel uses them: only after step 2 are they unused.
   * 4. Keepalive and member hellos restart on the new path, since they send through it.
   * 5. A moved tunnel compares its new remote with the kernel's path MTU: it needs the new remote
   *    and spec of step 2, and may re-plan the tunnel, so it comes last.
   */
  async update(name: string, update: TunnelUpdate): Promise<TunnelStatus> {
    return this.#serial(name, async () => {
      const tunnel = this.require(name);
      const before = tunnel.spec;
      const { path, moved } = await this.prepareMove(tunnel, update);
      const left = [tunnel.socket, tunnel.socket6, tunnel.trap];
      tunnel.retarget(path);
      this.#unreserve(path);
      this.releaseUnused(left);
      this.#watchEsp();
      followKeepaliveSpec(tunnel, before, moved);
      followMemberAuth(tunnel, moved || !sameAuth(before.auth, path.spec.auth) || before.helloInterval !== path.spec.helloInterval);
      if (moved) this.pathMtus.refresh(tunnel);
      return tunnelStatusOf(tunnel);
    });
  }

  /**
   * Asks the far end whether this path works: resolves true when the answer arrives within
   * `timeoutMs` (default 1000), false otherwise. gre: a Cisco keepalive that must come back;
   * fou/gue: a UDP keepalive that must be echoed, or, with auth role 'member', a hello that must be
   * acknowledged (what a GRE → FOU → GUE fallback decides on). A hub-role tunnel that is not bound
   * resolves false at once: it has no verified address to probe. ipip has no probe
   * (ERR_INVALID_ARGUMENT); an unknown name is ERR_TUNNEL_NOT_FOUND.
   */
  async probe(name: string, options: { timeoutMs?: number } = {}): Promise<boolean> {
    const tunnel = this.require(name);
    const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `probe timeout ${String(timeoutMs)} ms is out of range 1..600000`);
    }
    if (tunnel.spec.encap === 'ipip') throw new TunnelError('ERR_INVALID_ARGUMENT', 'ipip has no keepalive format to probe with');
    if (!tunnel.sending) return false;
    const member = tunnel.member;
    if (member !== null) {
      const answered = tunnel.probes.wait('hello', timeoutMs);
      member.sayHello();
      return answered;
    }
    const answered = tunnel.probes.wait('keepalive', timeoutMs);
    sendKeepalive(tunnel);
    return answered;
  }

  /** Stops a tunnel and closes its TUN (the interface disappears with it, off the event loop). */
  async removeTunnel(name: string): Promise<void> {
    return this.#serial(name, async () => {
      const tunnel = this.require(name);
      this.tunnels.delete(name);
      tunnel.close();
      this.releaseUnused([tunnel.socket, tunnel.socket6, tunnel.trap]);
      this.pathMtus.watch();
      this.#watchEsp();
      await this.io.closeTuns([tunnel.tun]);
    });
  }

  /** True when a tunnel of that name runs (not while it is still being made). */
  has(name: string): boolean {
    return this.tunnels.has(name);
  }

  /** Status of one tunnel; ERR_TUNNEL_NOT_FOUND if none has that name. */
  tunnelStatus(name: string): TunnelStatus {
    return tunnelStatusOf(this.require(name));
  }

  /**
   * The bytes a tunnel received toward each inner destination since the last call, the fast
   * route's and the JS path's together (engine option tallyDestinations; empty without it). A few
   * entries at most, whatever the number of tunnels; ERR_TUNNEL_NOT_FOUND if none has that name.
   */
  drainDestinations(name: string): DestinationCount[] {
    const tunnel = this.require(name);
    if (tunnel.destinations === null) return [];
    const bytes = new Map<string, number>();
    for (const count of [...tunnel.destinations.drain(), ...(tunnel.fastRoute?.drainDestinations() ?? [])]) {
      bytes.set(count.address, (bytes.get(count.address) ?? 0) + count.bytes);
    }
    return [...bytes].map(([address, total]) => ({ address, bytes: total }));
  }

  /** Status of every tunnel, in creation order (their fast routes' counters read in one call). */
  status(): TunnelStatus[] {
    this.#absorber.absorb(this.tunnels.values());
    return [...this.tunnels.values()].map((tunnel) => tunnelStatusOf(tunnel, true));
  }

  /** Counters of packets that reached a shared socket but no tunnel. */
  socketStatus(): OuterSocketStatus[] {
    return [...this.sockets.values()].map(socketStatusOf);
  }

  /**
   * Removes every tunnel and closes every socket; work asked for before finishes first, work
   * asked for after is refused (ERR_CLOSED). With an owner, the devices are deleted in one
   * request (one RCU grace period for all instead of one per device) before their descriptors
   * close, which a hub with thousands of tunnels needs to stop within seconds.
   */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#work.values()]);
    const tunnels = [...this.tunnels.values()];
    this.tunnels.clear();
    for (const tunnel of tunnels) tunnel.close();
    this.releaseUnused([...this.sockets.values()]);
    this.pathMtus.watch();
    this.#watchEsp();
    if (tunnels.length > 0 && this.options.owner !== undefined) await this.#deleteOwnGroup(this.options.owner);
    await this.io.closeTuns(tunnels.map((tunnel) => tunnel.tun));
  }

  /**
   * Closes everything at once, blocking until each TUN is gone: the last-ditch cleanup before a
   * forced exit (close() is the way otherwise). Work still under way is abandoned.
   */
  closeNow(): void {
    this.#closing = true;
    const tunnels = [...this.tunnels.values()];
    this.tunnels.clear();
    for (const tunnel of tunnels) {
      tunnel.close();
      tunnel.tun.close();
    }
    this.releaseUnused([...this.sockets.values()]);
    this.pathMtus.watch();
    this.#watchEsp();
  }

  /**
   * Deletes the devices of this engine's owner that do not run here: what a process of the same
   * owner left behind when it was killed (or is still tearing down). Devices of anyone else are
   * left alone. Resolves with their names. Without an owner, nothing is anyone's: resolves with none.
   */
  async removeStaleDevices(): Promise<string[]> {
    const owner = this.options.owner;
    if (owner === undefined) return [];
    const stale = (await this.io.listLinks(''))
      .filter((link) => link.alias === owner.alias && !this.tunnels.has(link.name) && !this.#work.has(link.name))
      .map((link) => link.name);
    if (stale.length === 0) return [];
    if (this.tunnels.size === 0 && this.#work.size === 0 && await this.#deleteOwnGroup(owner)) return stale;
    const outcomes = await this.io.configure(stale.map((link): KernelChange => ({ kind: 'delete-link', link })));
    return stale.filter((_, i) => outcomes[i]?.ok === true || outcomes[i]?.error.code === 'ERR_DEVICE_NOT_FOUND');
  }

  /** Runs `work` after the work asked for `name` before it (whatever became of that). */
  #serial<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.#work.get(name) ?? Promise.resolve();
    const run = before.then(() => {
      if (this.#closing && !this.tunnels.has(name)) throw new TunnelError('ERR_CLOSED', 'the datapath is shutting down');
      return work();
    });
    const settled = run.then(() => undefined, () => undefined);
    this.#work.set(name, settled);
    void settled.then(() => {
      if (this.#work.get(name) === settled) this.#work.delete(name);
    });
    return run;
  }

  async #add(spec: TunnelSpec): Promise<TunnelStatus> {
    if (this.tunnels.has(spec.name)) throw new TunnelError('ERR_TUNNEL_EXISTS', `a tunnel named ${spec.name} already runs here`);
    const plan = planEncapsulation(spec, this.pathMtu);
    const sas = this.securityAssociationsOf(spec.name);
    const prepared = sas.prepare(spec.esp);
    const { socket, socket6, trap } = this.acquireSocketsOrDiscard(spec, plan, sas, prepared);
    const path = { socket, socket6, trap };
    this.#reserve(path);
    let tun: TunEndpoint | undefined;
    try {
      this.#claim(socket, socket6, trap, spec);
      tun = await this.openDevice(spec, plan);
      // The device took a while: the engine may be closing, or another tunnel may hold the place now.
      if (this.#closing) throw new TunnelError('ERR_CLOSED', 'the datapath is shutting down');
      this.#claim(socket, socket6, trap, spec);
    } catch (err) {
      sas.discard(prepared);
      this.#unreserve(path);
      this.releaseUnused([socket, socket6, trap]);
      if (tun !== undefined) await this.io.closeTuns([tun]);
      throw err;
    }
    const opened = tun;
    const tunnel = new Tunnel(this.partsOf(spec, opened, sas), tunnelPath(spec, plan, null, socket, socket6, trap, prepared, this.emitBinding));
    tunnel.open();
    this.#unreserve(path);
    this.tunnels.set(spec.name, tunnel);
    opened.onReadable(() => {
      try {
        transmitFromTun(tunnel);
      } catch {
        tunnel.counters.txDrop('internal');
      }
    });
    this.#keepalives.restart(tunnel, true);
    followMemberAuth(tunnel, true);
    await this.attachFastRoute(tunnel);
    this.pathMtus.refresh(tunnel);
    this.pathMtus.watch();
    this.#watchEsp();
    return tunnelStatusOf(tunnel);
  }

  /** Step 1 of update(): everything that can fail, before the tunnel changes; its new sockets stay reserved. */
  private async prepareMove(tunnel: Tunnel, update: TunnelUpdate): Promise<{ path: TunnelPath; moved: boolean }> {
    const before = tunnel.spec;
    const spec = applyTunnelUpdate(before, update);
    const moved = before.remote !== spec.remote || before.local !== spec.local || before.encap !== spec.encap
      || before.remotePort !== spec.remotePort || before.localPort !== spec.localPort;
    const learnedPathMtu = moved ? null : tunnel.learnedPathMtu;
    const plan = planEncapsulation(spec, this.pathMtu, learnedPathMtu);
    const prepared = tunnel.sas.prepare(spec.esp);
    const { socket, socket6, trap } = this.acquireSocketsOrDiscard(spec, plan, tunnel.sas, prepared);
    const path = { socket, socket6, trap };
    this.#reserve(path);
    let mtuSet = false;
    try {
      this.#claim(socket, socket6, trap, spec, tunnel);
      if (plan.mtu !== tunnel.plan.mtu) {
        await this.#configureLink(spec.name, [{ kind: 'set-mtu', link: spec.name, mtu: plan.mtu }]);
        mtuSet = true;
        this.#claim(socket, socket6, trap, spec, tunnel);
      }
    } catch (err) {
      // Sockets the tunnel already uses have users, so only the ones opened here close.
      tunnel.sas.discard(prepared);
      this.#unreserve(path);
      this.releaseUnused([socket, socket6, trap]);
      if (mtuSet) void this.io.configure([{ kind: 'set-mtu', link: spec.name, mtu: tunnel.plan.mtu }]).catch(() => undefined);
      throw err;
    }
    return { path: tunnelPath(spec, plan, learnedPathMtu, socket, socket6, trap, prepared, this.emitBinding), moved };
  }

  /** Throws ERR_TUNNEL_EXISTS when another tunnel than `except` holds the place `spec` takes. */
  #claim(socket: OuterSocket, socket6: OuterSocket, trap: OuterSocket | null, spec: TunnelSpec, except?: Tunnel): void {
    const claimed = claimProblem(socket, socket6, trap, spec, except);
    if (claimed !== null) throw new TunnelError('ERR_TUNNEL_EXISTS', claimed);
  }

  /** Holds a path's sockets open while its tunnel is being set up (each distinct socket once). */
  #reserve(path: { socket: TunnelSocket; socket6: TunnelSocket; trap: TunnelSocket | null }): void {
    for (const socket of new Set([path.socket, path.socket6, path.trap])) (socket as OuterSocket | null)?.reserve();
  }

  #unreserve(path: { socket: TunnelSocket; socket6: TunnelSocket; trap: TunnelSocket | null }): void {
    for (const socket of new Set([path.socket, path.socket6, path.trap])) (socket as OuterSocket | null)?.unreserve();
  }

  /**
   * Opens the tunnel's TUN (a TAP for gretap) and configures it: the owner's mark, MAC, MTU,
   * address, up, in one batch with the other tunnels' changes of this turn. On failure the device
   * is closed again and the coded refusal thrown.
   */
  private async openDevice(spec: TunnelSpec, plan: EncapsulationPlan): Promise<TunEndpoint> {
    const tun = await this.#openTun(spec);
    const link = spec.name;
    const changes: KernelChange[] = [];
    const owner = this.options.owner;
    if (owner !== undefined) changes.push({ kind: 'mark-link', link, group: owner.group, alias: owner.alias });
    if (spec.mac !== null) changes.push({ kind: 'set-mac', link, mac: spec.mac });
    changes.push({ kind: 'set-mtu', link, mtu: plan.mtu });
    // A TAP is a broadcast link: its /30 needs no peer (ARP finds the other end). A gretap
    // without addresses is an L2 port for a bridge and gets none.
    if (spec.address !== null) {
      const cidr = `${spec.address}/${spec.prefixLength}`;
      changes.push(spec.mac !== null || spec.peerAddress === null ? { kind: 'add-address', link, cidr } : { kind: 'add-address', link, cidr, peer: spec.peerAddress });
    }
    changes.push({ kind: 'set-up', link, up: true });
    try {
      await this.#configureLink(link, changes);
    } catch (err) {
      await this.io.closeTuns([tun]);
      throw err;
    }
    return tun;
  }

  /**
   * Opens the device; with an owner, exclusively: a device of that name this owner left behind
   * (a killed process) is deleted and the open tried again, one anyone else holds is refused with
   * ERR_ALREADY_EXISTS and left alone.
   */
  async #openTun(spec: TunnelSpec): Promise<TunEndpoint> {
    const owner = this.options.owner;
    const options = { tap: spec.mac !== null, forwarded: this.options.fastPath !== false && this.io.createFastRoute !== undefined, exclusive: owner !== undefined };
    try {
      const tun = await this.io.openTun(spec.name, options);
      this.#foreign.delete(spec.name);
      return tun;
    } catch (err) {
      if (owner === undefined || !(err instanceof TunnelError) || err.code !== 'ERR_ALREADY_EXISTS') throw err;
      const foreign = (): TunnelError => new TunnelError('ERR_ALREADY_EXISTS',
        `an interface named ${spec.name} exists and is not this process's: it is left alone (remove or rename it to let this tunnel up)`, { cause: err });
      if (this.#foreign.has(spec.name)) throw foreign();
      const holder = (await this.io.listLinks(spec.name)).find((link) => link.name === spec.name);
      if (holder !== undefined && holder.alias !== owner.alias) {
        this.#foreign.add(spec.name);
        throw foreign();
      }
      if (holder !== undefined) await this.io.configure([{ kind: 'delete-link', link: spec.name }]);
      return this.io.openTun(spec.name, options);
    }
  }

  /** Makes `changes` to one link; throws the first refusal. */
  async #configureLink(link: string, changes: KernelChange[]): Promise<void> {
    const outcomes = await this.io.configure(changes);
    const refused = outcomes.find((outcome) => !outcome.ok);
    if (refused !== undefined && !refused.ok) throw refused.error;
    if (outcomes.length !== changes.length) throw new TunnelError('ERR_INTERNAL', `configuring ${link}: the kernel configuration gave ${outcomes.length} outcomes for ${changes.length} changes`);
  }

  /**
   * Deletes the owner's link group in one request, after checking that every device in it is the
   * owner's (another process may have picked the same group number); false when it did not.
   */
  async #deleteOwnGroup(owner: DeviceOwner): Promise<boolean> {
    try {
      const links = await this.io.listLinks('');
      if (links.some((link) => link.group === owner.group && link.alias !== owner.alias)) return false;
      if (!links.some((link) => link.group === owner.group)) return true;
      const [outcome] = await this.io.configure([{ kind: 'delete-link-group', group: owner.group }]);
      return outcome?.ok === true || outcome?.error.code === 'ERR_DEVICE_NOT_FOUND';
    } catch {
      return false;
    }
  }

  /** A tunnel's SA owner, over the I/O's ESP when it has one. */
  private securityAssociationsOf(name: string): TunnelSecurityAssociations {
    const io = this.io;
    const factory: EspFactory | null = io.createEspSa !== undefined && io.createEspInbound !== undefined
      ? { createEspSa: (config) => io.createEspSa!(config), createEspInbound: () => io.createEspInbound!() } : null;
    return new TunnelSecurityAssociations(factory, name, new TunnelCounters(), (event) => this.options.onRekeyDue?.(event));
  }

  private partsOf(spec: TunnelSpec, tun: TunEndpoint, sas: TunnelSecurityAssociations): TunnelParts {
    return {
      tun,
      batches: this.#batches,
      keepalives: this.#keepalives,
      counters: sas.counters,
      sas,
      liveness: new TunnelLiveness(spec.name, spec.keepaliveRetries, (event) => this.livenessChanged(event)),
      probes: new TunnelProbes(),
      nonce: randomInt(0, 0x1_0000_0000),
      destinations: this.options.tallyDestinations === true ? new DestinationTally() : null,
    };
  }

  /** Gives the tunnel a fast route when the I/O offers one; a failure undoes addTunnel. */
  private async attachFastRoute(tunnel: Tunnel): Promise<void> {
    if (this.options.fastPath === false || this.io.createFastRoute === undefined) return;
    try {
      tunnel.attachFastRoute(new FastRouteSync(this.io.createFastRoute(), tunnel));
    } catch (err) {
      this.tunnels.delete(tunnel.spec.name);
      tunnel.close();
      this.releaseUnused([tunnel.socket, tunnel.socket6, tunnel.trap]);
      this.#watchEsp();
      await this.io.closeTuns([tunnel.tun]);
      throw err;
    }
  }

  private livenessChanged(event: LivenessEvent): void {
    this.tunnels.get(event.name)?.livenessChanged();
    this.options.onLiveness?.(event);
  }

  private require(name: string): Tunnel {
    const tunnel = this.tunnels.get(name);
    if (tunnel === undefined) throw new TunnelError('ERR_TUNNEL_NOT_FOUND', `no tunnel named ${JSON.stringify(name)} runs here`);
    return tunnel;
  }

  /** acquireSockets, letting go of the prepared SAs when it fails. */
  private acquireSocketsOrDiscard(
    spec: TunnelSpec, plan: EncapsulationPlan, sas: TunnelSecurityAssociations, prepared: PreparedSas,
  ): { socket: OuterSocket; socket6: OuterSocket; trap: OuterSocket | null } {
    try {
      return this.acquireSockets(spec, plan);
    } catch (err) {
      sas.discard(prepared);
      throw err;
    }
  }

  /**
   * The sockets a plan sends through: one, or two for ipip over IPv6 (protocols 4 and 41); and for
   * raw ESP the raw socket of the protocol it protects, where cleartext for it would arrive.
   */
  private acquireSockets(spec: TunnelSpec, plan: EncapsulationPlan): { socket: OuterSocket; socket6: OuterSocket; trap: OuterSocket | null } {
    const socket = this.acquireSocket(spec, plan.transport);
    const opened: OuterSocket[] = [socket];
    try {
      const socket6 = plan.transport6 === plan.transport ? socket : this.acquireSocket(spec, plan.transport6);
      opened.push(socket6);
      const cleartext = plan.esp?.cleartext ?? null;
      const trap = cleartext === null ? null : this.acquireSocket(spec, cleartext);
      return { socket, socket6, trap };
    } catch (err) {
      this.releaseUnused(opened);
      throw err;
    }
  }

  /** Runs the ESP watch while some tunnel is encrypted: counters absorbed, rekeys reported. */
  #watchEsp(): void {
    let any = false;
    for (const tunnel of this.tunnels.values()) {
      if (tunnel.sas.encrypted) {
        any = true;
        break;
      }
    }
    if (any && this.#espWatch === null) {
      this.#espWatch = setInterval(() => {
        for (const tunnel of this.tunnels.values()) if (tunnel.sas.encrypted) tunnel.sas.absorb();
      }, ESP_WATCH_INTERVAL_MS);
      this.#espWatch.unref();
    } else if (!any && this.#espWatch !== null) {
      clearInterval(this.#espWatch);
      this.#espWatch = null;
    }
  }

  private acquireSocket(spec: TunnelSpec, transport: OuterTransport): OuterSocket {
    const local = spec.outerFamily === 6 ? `[${spec.local}]` : spec.local;
    const id = transport === 'udp' ? `udp ${local}:${spec.localPort}` : `${transport} ${spec.local}`;
    const existing = this.sockets.get(id);
    if (existing !== undefined) {
      if (existing.ttl !== spec.ttl) {
        throw new TunnelError('ERR_INVALID_CONFIG', `tunnels sharing ${id} must share one outer ttl (${existing.ttl}, not ${spec.ttl})`);
      }
      return existing;
    }
    const endpoint = transport === 'udp'
      ? this.io.openUdpSocket(spec.local, spec.localPort, { ttl: spec.ttl })
      : this.io.openRawSocket(RAW_PROTOCOL[transport], spec.local, { ttl: spec.ttl });
    const socket = new OuterSocket(id, transport, spec.outerFamily, spec.local, spec.localPort, spec.ttl, endpoint,
      this.io.createPacketBatch(BATCH_CAPACITY, SLOT_SIZE), this.io.createPacketBatch(CONTROL_CAPACITY, SLOT_SIZE),
      this.io.createPacketBatch(BATCH_CAPACITY, KEEPALIVE_SLOT_SIZE));
    endpoint.onReadable(() => {
      this.pathMtus.applyReports(socket);
      receiveFromOuter(socket, this.targets, this.touched);
    });
    this.sockets.set(id, socket);
    return socket;
  }

  /** Closes each of these sockets no tunnel uses any more. */
  private releaseUnused(sockets: readonly (TunnelSocket | null)[]): void {
    for (const socket of new Set(sockets)) {
      if (socket === null || socket.users > 0 || this.sockets.get(socket.id) !== socket) continue;
      this.sockets.delete(socket.id);
      socket.endpoint.close();
    }
  }
}
