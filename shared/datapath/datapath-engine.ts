import { randomInt } from 'node:crypto';
import { TunnelError } from '../errors.js';
import type { DatapathIo, TunEndpoint } from './datapath-io.js';
import { DestinationTally, type DestinationCount } from './destination-tally.js';
import type { DeviceOwner } from './device-owner.js';
import { DEFAULT_PATH_MTU, planEncapsulation } from './encapsulation-plan.js';
import { EspWatch } from './esp-watch.js';
import { TurnBudget } from './turn-budget.js';
import { FastRouteAbsorber, FastRouteSync } from './fast-route-sync.js';
import { receiveFromOuter } from './outer-receive.js';
import { SharedMemberDevice, type SharedDeviceOption } from './shared-member-device.js';
import { BATCH_CAPACITY, OuterSocketPool, SLOT_SIZE } from './outer-socket-pool.js';
import { PathMtuWatch, type PathMtuEvent } from './path-mtu-watch.js';
import { TunnelCounters } from './tunnel-counters.js';
import { followKeepaliveSpec, Keepalives, sendKeepalive } from './tunnel-keepalive.js';
import { TunnelLiveness, type LivenessEvent } from './tunnel-liveness.js';
import { tunnelPath } from './tunnel-path.js';
import { TunnelProbes } from './tunnel-probe.js';
import { TunnelSecurityAssociations, type EspFactory, type RekeyDueEvent } from './tunnel-security-associations.js';
import { TunnelDevices } from './tunnel-devices.js';
import type { SourceFilter } from './source-filter.js';
import { applyTunnelUpdate, sameAuth, validateTunnelSpec, type TunnelSpec, type TunnelSpecInput, type TunnelUpdate } from './tunnel-spec.js';
import { tunnelShapeOf, tunnelStatusOf, type OuterSocketStatus, type TunnelShape, type TunnelStatus } from './tunnel-status.js';
import { transmitFromTun } from './tunnel-transmit.js';
import { Tunnel, type TunnelBatches, type TunnelParts, type TunnelPath } from './tunnel.js';
import type { BindingEvent } from './udp-binding-event.js';
import { followMemberAuth } from './udp-binding-member.js';

export type { BindingStatus } from './binding-status.js';
export type { OuterSocketStatus, TunnelShape, TunnelStatus } from './tunnel-status.js';
export type { RekeyDueEvent } from './tunnel-security-associations.js';
export { ESP_WATCH_INTERVAL_MS } from './esp-watch.js';
export { BATCH_CAPACITY, SLOT_SIZE } from './outer-socket-pool.js';
export type { SharedDeviceOption } from './shared-member-device.js';

const REPLY_CAPACITY = 8;

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
  /**
   * One TUN shared by the tunnels whose specs `takes` accepts (shared-member-device.ts): each
   * puts its inner address there, and packets read from it go to the tunnel whose destinations
   * (its peer, and the prefixes setSharedRoutes gives) hold their destination. The rest get a
   * device of their own.
   */
  sharedDevice?: SharedDeviceOption;
  /**
   * Skip a tunnel's keepalive in an interval after one in which its remote spoke unasked (its own
   * keepalive, or data): for a hub, whose members probe on their own. Silence after a skipped
   * interval is probed before a miss counts. Default false: every interval is probed.
   */
  passiveKeepalives?: boolean;
  /**
   * Called when a tunnel's keepalive interval ends with nothing heard after one that heard its
   * remote, and when it goes down: from then on pathHeardAt() gives null until it is heard again.
   * With the time it was last heard, so a reader that reads pathHeardAt() seldom loses no proof.
   */
  onPathQuiet?: (event: PathQuietEvent) => void;
}

/** A tunnel's path fell quiet (DatapathEngineOptions.onPathQuiet). */
export interface PathQuietEvent {
  name: string;
  /** When the remote was last heard (ms since epoch), or null if never. */
  lastHeardAt: number | null;
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
  readonly #sockets: OuterSocketPool;
  readonly #devices: TunnelDevices;
  readonly #shared: SharedMemberDevice | null;
  readonly #espWatch = new EspWatch();
  /** Per tunnel name, the end of the work asked for it so far. */
  readonly #work = new Map<string, Promise<void>>();
  #closing = false;
  readonly #turns = new TurnBudget();
  /** The fast routes' tally count at the last drainBusyDestinations(). */
  #tallyCount: number | undefined;
  /** Tunnels whose JS-path tally counted a packet since drainBusyDestinations() last looked. */
  readonly #jsTallied = new Set<string>();

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
    const onPathQuiet = options.onPathQuiet;
    this.#keepalives = new Keepalives((tunnels) => this.#absorber.absorb(tunnels), {
      passive: options.passiveKeepalives,
      onQuiet: onPathQuiet && ((tunnel) => onPathQuiet({ name: tunnel.spec.name, lastHeardAt: tunnel.liveness.lastHeardAt })),
    });
    this.#sockets = new OuterSocketPool(io, (socket) => {
      this.pathMtus.applyReports(socket);
      receiveFromOuter(socket, this.targets, this.touched);
    });
    this.#devices = new TunnelDevices(io, options.owner, options.fastPath);
    this.#shared = options.sharedDevice === undefined ? null : new SharedMemberDevice(io, options.owner, options.sharedDevice, BATCH_CAPACITY, SLOT_SIZE);
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
   *
   * Resolves with nothing: a hub moves thousands of tunnels at once and reads none of their
   * statuses then; tunnelStatus() gives one when it is wanted.
   */
  async update(name: string, update: TunnelUpdate): Promise<void> {
    return this.#serial(name, async () => {
      const tunnel = this.require(name);
      const before = tunnel.spec;
      const { path, moved } = await this.prepareMove(tunnel, update);
      const left = [tunnel.socket, tunnel.socket6, tunnel.trap];
      tunnel.retarget(path);
      this.#sockets.unreserve(path);
      this.#sockets.release(left);
      this.#espWatch.follow(tunnel);
      followKeepaliveSpec(tunnel, before, moved);
      followMemberAuth(tunnel, moved || !sameAuth(before.auth, path.spec.auth) || before.helloInterval !== path.spec.helloInterval);
      if (moved) this.pathMtus.refresh(tunnel);
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
      this.#sockets.release([tunnel.socket, tunnel.socket6, tunnel.trap]);
      this.pathMtus.watch();
      this.#espWatch.follow(tunnel);
      if (tunnel.sharedDestinations !== null) await this.#shared!.detach(tunnel);
      else await this.io.closeTuns([tunnel.tun]);
    });
  }

  /**
   * Routes `prefixes` (CIDRs) to a tunnel on the shared device besides its peer's address (a hub:
   * the member's prefixes). ERR_INVALID_CIDR leaves them as they were; a tunnel with a device of
   * its own is ERR_INVALID_ARGUMENT (the kernel routes to its interface).
   */
  setSharedRoutes(name: string, prefixes: readonly string[]): void {
    const tunnel = this.require(name);
    const shared = this.#shared;
    if (tunnel.sharedDestinations === null || shared === null) throw new TunnelError('ERR_INVALID_ARGUMENT', `tunnel ${name} has a device of its own, not the shared one`);
    tunnel.setSharedDestinations(shared.destinationsOf(tunnel.spec, prefixes));
    shared.seat(tunnel);
  }

  /** The interface a running tunnel's packets use: its own, or the shared device's name. */
  deviceOf(name: string): string {
    return this.require(name).tun.name;
  }

  /** Packets read from the shared device that no tunnel's destinations held (dropped); 0 without one. */
  sharedUnrouted(): number {
    return this.#shared?.unrouted ?? 0;
  }

  /** True when a tunnel of that name runs (not while it is still being made). */
  has(name: string): boolean {
    return this.tunnels.has(name);
  }

  /** Status of one tunnel; ERR_TUNNEL_NOT_FOUND if none has that name. */
  tunnelStatus(name: string): TunnelStatus {
    return tunnelStatusOf(this.require(name));
  }

  /** The device, kind and inner addresses of the tunnel named `name`, or undefined when none runs (cheap: no counters read). */
  tunnelShape(name: string): TunnelShape | undefined {
    const tunnel = this.tunnels.get(name);
    return tunnel === undefined ? undefined : tunnelShapeOf(tunnel);
  }

  /**
   * When the tunnel named `name` last heard its remote (at a keepalive interval's end), while its
   * path still proves the remote alive: keepalives running, up, and the last interval heard it
   * (even one a passive end left unprobed). Null otherwise. Cheap: no status built.
   */
  pathHeardAt(name: string): number | null {
    const tunnel = this.tunnels.get(name);
    if (tunnel === undefined || !this.#keepalives.running(tunnel)) return null;
    const { state, quiet, lastHeardAt } = tunnel.liveness;
    return state === 'up' && !quiet ? lastHeardAt : null;
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

  /**
   * drainDestinations() of every tunnel that received anything since its last drain, by name. The
   * fast routes' shared tally count is read first: while it stands still no route is read at all,
   * else their counters are read in one call and only routes that received are drained. So a hub
   * whose members are quiet pays one native call here, not one per tunnel.
   */
  drainBusyDestinations(): Map<string, DestinationCount[]> {
    // Read before the counters: a packet tallied after this read shows in the next one.
    const tallyCount = this.io.destinationTallyCount?.();
    const routesTallied = tallyCount === undefined || tallyCount !== this.#tallyCount;
    this.#tallyCount = tallyCount;
    // Without a fast route's tally since the last call, only the tunnels whose JS path counted can have any: an idle hub of thousands looks at none.
    const tallied = routesTallied ? [...this.tunnels.values()].filter((tunnel) => tunnel.destinations !== null)
      : [...this.#jsTallied].map((name) => this.tunnels.get(name)).filter((tunnel): tunnel is Tunnel => tunnel?.destinations != null);
    this.#jsTallied.clear();
    if (routesTallied) this.#absorber.absorb(tallied);
    const busy = new Map<string, DestinationCount[]>();
    for (const tunnel of tallied) {
      if (!tunnel.destinations!.counted && !(routesTallied && tunnel.fastRoute?.receivedSinceDrain === true)) continue;
      const counts = this.drainDestinations(tunnel.spec.name);
      if (counts.length > 0) busy.set(tunnel.spec.name, counts);
    }
    return busy;
  }

  /** Status of every tunnel, in creation order (their fast routes' counters read in one call). */
  status(): TunnelStatus[] {
    this.#absorber.absorb(this.tunnels.values());
    return [...this.tunnels.values()].map((tunnel) => tunnelStatusOf(tunnel, true));
  }

  /** Counters of packets that reached a shared socket but no tunnel. */
  socketStatus(): OuterSocketStatus[] {
    return this.#sockets.status();
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
    this.#sockets.releaseAll();
    this.pathMtus.watch();
    this.#espWatch.stop();
    if (tunnels.length > 0 || this.#shared?.opened === true) await this.#devices.deleteOwnGroup();
    await this.io.closeTuns(tunnels.filter((tunnel) => tunnel.sharedDestinations === null).map((tunnel) => tunnel.tun));
    await this.#shared?.close();
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
    this.#shared?.closeNow();
    this.#sockets.releaseAll();
    this.pathMtus.watch();
    this.#espWatch.stop();
  }

  /**
   * Deletes the devices of this engine's owner that do not run here: what a process of the same
   * owner left behind when it was killed (or is still tearing down). Devices of anyone else are
   * left alone. Resolves with their names. Without an owner, nothing is anyone's: resolves with none.
   */
  async removeStaleDevices(): Promise<string[]> {
    const shared = this.#shared;
    return this.#devices.removeStale((name) => this.tunnels.has(name) || this.#work.has(name) || (shared?.opened === true && name === shared.name),
      () => this.tunnels.size === 0 && this.#work.size === 0 && shared?.opened !== true);
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
    const { socket, socket6, trap } = this.#sockets.acquireOrDiscard(spec, plan, sas, prepared);
    const path = { socket, socket6, trap };
    this.#sockets.reserve(path);
    const shared = this.#shared !== null && this.#shared.option.takes(spec) ? this.#shared : null;
    let tun: TunEndpoint | undefined;
    try {
      this.#sockets.claim(path, spec);
      tun = shared !== null ? await shared.attach(spec, plan) : await this.#devices.open(spec, plan);
      // Devices opened together resume together: each tunnel's setup below takes its turn.
      const pause = this.#turns.pause();
      if (pause !== undefined) await pause;
      // The device took a while: the engine may be closing, or another tunnel may hold the place now.
      if (this.#closing) throw new TunnelError('ERR_CLOSED', 'the datapath is shutting down');
      this.#sockets.claim(path, spec);
    } catch (err) {
      sas.discard(prepared);
      this.#sockets.unreserve(path);
      this.#sockets.release([socket, socket6, trap]);
      if (tun !== undefined && shared === null) await this.io.closeTuns([tun]);
      throw err;
    }
    const opened = tun;
    const tunnel = new Tunnel(this.partsOf(spec, opened, sas, shared?.destinationsOf(spec, []) ?? null), tunnelPath(spec, plan, null, socket, socket6, trap, prepared, this.emitBinding));
    tunnel.open();
    this.#sockets.unreserve(path);
    this.tunnels.set(spec.name, tunnel);
    // A shared device reads for all its tunnels (shared-member-device.ts).
    if (shared !== null) shared.seat(tunnel);
    else {
      opened.onReadable(() => {
        try {
          transmitFromTun(tunnel);
        } catch {
          tunnel.counters.txDrop('internal');
        }
      });
    }
    this.#keepalives.restart(tunnel, true);
    followMemberAuth(tunnel, true);
    await this.attachFastRoute(tunnel);
    this.pathMtus.refresh(tunnel);
    this.pathMtus.watch();
    this.#espWatch.follow(tunnel);
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
    const { socket, socket6, trap } = this.#sockets.acquireOrDiscard(spec, plan, tunnel.sas, prepared);
    const path = { socket, socket6, trap };
    this.#sockets.reserve(path);
    let mtuSet = false;
    try {
      this.#sockets.claim(path, spec, tunnel);
      if (plan.mtu !== tunnel.plan.mtu && tunnel.sharedDestinations !== null) {
        await this.#shared!.fitMtu(plan.mtu);
      } else if (plan.mtu !== tunnel.plan.mtu) {
        await this.#devices.setMtu(spec.name, plan.mtu);
        mtuSet = true;
        this.#sockets.claim(path, spec, tunnel);
      }
    } catch (err) {
      // Sockets the tunnel already uses have users, so only the ones opened here close.
      tunnel.sas.discard(prepared);
      this.#sockets.unreserve(path);
      this.#sockets.release([socket, socket6, trap]);
      if (mtuSet) this.#devices.restoreMtu(spec.name, tunnel.plan.mtu);
      throw err;
    }
    return { path: tunnelPath(spec, plan, learnedPathMtu, socket, socket6, trap, prepared, this.emitBinding), moved };
  }

  /** A tunnel's SA owner, over the I/O's ESP when it has one. */
  private securityAssociationsOf(name: string): TunnelSecurityAssociations {
    const io = this.io;
    const factory: EspFactory | null = io.createEspSa !== undefined && io.createEspInbound !== undefined
      ? { createEspSa: (config) => io.createEspSa!(config), createEspInbound: () => io.createEspInbound!() } : null;
    return new TunnelSecurityAssociations(factory, name, new TunnelCounters(), (event) => this.options.onRekeyDue?.(event));
  }

  private partsOf(spec: TunnelSpec, tun: TunEndpoint, sas: TunnelSecurityAssociations, sharedDestinations: SourceFilter | null): TunnelParts {
    return {
      tun,
      batches: this.#batches,
      keepalives: this.#keepalives,
      counters: sas.counters,
      sas,
      liveness: new TunnelLiveness(spec.name, spec.keepaliveRetries, (event) => this.livenessChanged(event)),
      probes: new TunnelProbes(),
      nonce: randomInt(0, 0x1_0000_0000),
      destinations: this.options.tallyDestinations === true ? new DestinationTally(() => this.#jsTallied.add(spec.name)) : null,
      sharedDestinations,
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
      this.#sockets.release([tunnel.socket, tunnel.socket6, tunnel.trap]);
      this.#espWatch.follow(tunnel);
      if (tunnel.sharedDestinations !== null) this.#shared!.unseat(tunnel);
      else await this.io.closeTuns([tunnel.tun]);
      throw err;
    }
  }

  private livenessChanged(event: LivenessEvent): void {
    const tunnel = this.tunnels.get(event.name);
    tunnel?.livenessChanged();
    this.options.onLiveness?.(event);
    // Down without a quiet interval first (a hub's binding expired) ends the proof all the same.
    if (event.state === 'down') this.options.onPathQuiet?.({ name: event.name, lastHeardAt: tunnel?.liveness.lastHeardAt ?? null });
  }

  private require(name: string): Tunnel {
    const tunnel = this.tunnels.get(name);
    if (tunnel === undefined) throw new TunnelError('ERR_TUNNEL_NOT_FOUND', `no tunnel named ${JSON.stringify(name)} runs here`);
    return tunnel;
  }
}
