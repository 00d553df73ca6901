/**
 * The member swarm: a hub with its real datapath (or none, for the comparison row) in a namespace
 * of its own, and thousands of simulated members, each connecting from an address of its own in a
 * members' namespace, so every member gets a real GRE tunnel on the hub; a keepalive reflector
 * answers the hub's keepalives for all of them, so the tunnels come up and the idle load is real.
 * For benchmarks and netns tests alike:
 *
 *   const swarm = await createMemberSwarm({ members: 200 });
 *   const hub = await swarm.startHub({ datapath: 'engine' });
 *   const members = await swarm.startMembers(hub);
 *   await members.join();                        // every member has its config
 *   await swarm.awaitRegistryAcks(hub, 0);       // and the hub recorded every ack
 *   swarm.devices();                              // { tun, owned } in the hub's namespace
 *   await swarm.destroy();                        // processes stopped, namespaces and files gone
 *
 * Pieces: swarm-topology.ts (namespaces), swarm-worker.ts (the members' process),
 * keepalive-reflector.ts, hub-process.ts, process-probes.ts, admin-listener-probe.ts,
 * client-process.ts (real tunnel-client members on hosts of their own).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInvite } from '../server/hub-state/create-invite.js';
import { hubStatePaths } from '../server/hub-state/hub-state-paths.js';
import { openHubState, type HubState } from '../server/hub-state/hub-state.js';
import { Registry } from '../server/registry/registry.js';
import type { AnswerTimes, MetricValues } from './admin-listener-probe.js';
import { startHubIn, type BenchDatapath, type HubProcess } from './hub-process.js';
import type { ReflectorStats } from './keepalive-reflector.js';
import { countTunDevices, type DeviceCount } from './process-probes.js';
import { startRoleIn, type RoleProcess } from './role-process.js';
import { prepareLoadState, waitUntil } from './simulated-members.js';
import { SWARM_MAX_MEMBERS, swarmMemberAddress } from './swarm-addresses.js';
import { createSwarmTopology, type SwarmTopology } from './swarm-topology.js';
import type { SwarmChurn, SwarmHubArrival, SwarmPhase, SwarmStats } from './swarm-worker.js';

/** What to build. */
export interface MemberSwarmOptions {
  /** Simulated members, m0…m{N-1}. */
  members: number;
  /** Hub namespaces (1 or 2). */
  hubs?: number;
  /** Hosts for real `tunnel-client` members (0 to 2: c1, c2). */
  clients?: number;
  /** The pool the members' /30s come from (default 10.64.0.0/16: 16,384 links). */
  pool?: string;
  /** Connection attempts the members make at once (default 100; the hub's door keeps 512 unauthenticated). */
  concurrency?: number;
}

/**
 * The simulated members' process. Each phase rejects after `timeoutMs` (default: 2 minutes plus
 * 1 s per member: the real datapath configured about 2 members a second at 1,000 under load),
 * saying how many members got there.
 */
export interface SwarmMembers {
  /** Every member not connected connects from its address; resolves once each has its config for it. */
  join(timeoutMs?: number): Promise<SwarmPhase>;
  /** Every member (or m0…m{count-1}) drops its session and connects from its next address, all at once; the others stay. */
  move(timeoutMs?: number, count?: number): Promise<SwarmPhase>;
  /** Reconnect after a session the hub closed (a restart, its liveness timeout), or not; on at first, as tunnel-client. */
  reconnect(on: boolean): Promise<void>;
  /** Resolves once every member has a config that arrived after `since` (Date.now()). */
  awaitBack(since: number, timeoutMs?: number): Promise<SwarmPhase>;
  /** Starts watching for every member's (but `except`'s) next config with `prefix` among its routes, or without it. */
  watchRoute(prefix: string, present: boolean, except?: string): Promise<void>;
  /** When (Date.now()) the last member watched had its config. */
  awaitRoute(timeoutMs?: number): Promise<number>;
  /** Starts timing arrivals on a hub afresh (see awaitHub). */
  markHub(): Promise<void>;
  /** Resolves once every member is on hub `name`: when each connected to it and had its config (Date.now()). */
  awaitHub(name: string, timeoutMs?: number): Promise<SwarmHubArrival>;
  /** Churns `perSecond` events (a third moves, then leaves or joins around `share` connected) until stopChurn. */
  churn(perSecond: number, share: number): Promise<void>;
  stopChurn(): Promise<SwarmChurn>;
  stats(): Promise<SwarmStats>;
  closeAll(): Promise<number>;
  /** The address generation m0 is at (0 until the first move): every member's while each move moved all. */
  readonly generation: number;
  /** The address generation member `index` is at. */
  generationOf(index: number): number;
  stop(): Promise<void>;
}

/** The keepalive reflector's process. */
export interface SwarmReflector {
  stats(): Promise<ReflectorStats>;
  stop(): Promise<void>;
}

/** The hub's admin listener seen from its namespace (admin-listener-probe.ts). */
export interface AdminProbe {
  /** The answer times since the last take. */
  take(): Promise<AnswerTimes>;
  /** The values of these unlabelled series on /metrics. */
  metrics(names: readonly string[]): Promise<MetricValues>;
  /** Opens the status page's event stream. */
  watchEvents(): Promise<void>;
  /** Updates the event stream has sent. */
  events(): Promise<number>;
  stop(): Promise<void>;
}

/** A built swarm; see the file's comment. */
export interface MemberSwarm {
  readonly topology: SwarmTopology;
  /** A folder of this swarm's own (state copies, logs); removed by destroy. */
  readonly workDir: string;
  /** The prepared state: peers m0…m{N-1}, each with a peer token. Hubs run on copies (copyState). */
  readonly stateDir: string;
  readonly names: readonly string[];
  /** How long adding the peers and their tokens took, in ms. */
  readonly prepareMs: number;
  /** A copy of the prepared state, so runs of one benchmark start from the same registry. */
  copyState(label: string): string;
  /** Starts `tunnel-hub serve` in hub namespace `hub` (default 0) on the prepared state or `stateDir`. */
  startHub(options: { datapath: BenchDatapath; stateDir?: string; hub?: number; args?: readonly string[]; nodeArgs?: readonly string[] }): Promise<HubProcess>;
  /**
   * Starts the members' process aimed at `hub` (its WebSocket port on the address of hub namespace
   * `hubIndex`, default 0); `cluster`: members follow their config's hub list when it is unreachable;
   * `tokens`: m0…m{N-1}'s peer tokens of another state than the prepared one (a cluster's registry).
   */
  startMembers(hub: HubProcess, options?: { hubIndex?: number; cluster?: boolean; tokens?: readonly string[] }): Promise<SwarmMembers>;
  /** Starts the keepalive reflector in the members' namespace; `originateSeconds`: members also send keepalives of their own that often. */
  startReflector(options?: { originateSeconds?: number }): Promise<SwarmReflector>;
  /** Starts the probe of `hub`'s admin listener, inside hub namespace `hubIndex` (default 0). */
  startAdminProbe(hub: HubProcess, hubIndex?: number): Promise<AdminProbe>;
  /** A single-use invite for a real member, in the state folder `stateDir`. */
  invite(stateDir: string): Promise<string>;
  /** Turns shortcuts off for `peers` in the state folder `stateDir`, so their traffic to each other stays on the hub (`peer set NAME --shortcuts off`). */
  shortcutsOff(stateDir: string, peers: readonly string[]): Promise<void>;
  /** How many shortcuts `peer` has in the state folder `stateDir`. */
  shortcutCount(stateDir: string, peer: string): Promise<number>;
  /** TUN/TAP devices in hub namespace `hub`: all of them, and the hub's own (`tnl-`). */
  devices(hub?: number): DeviceCount;
  /** Polls until hub namespace `hub` holds none of the hub's own devices; resolves with the ms it took. */
  awaitNoDevices(hub?: number, timeoutMs?: number): Promise<number>;
  /**
   * Polls the registry of `hub` until every member's last config is acknowledged and records the
   * address of `generation` (one for all, or per member index) as the one the member reported;
   * resolves with how many it checked.
   */
  awaitRegistryAcks(hub: HubProcess, generation: number | ((index: number) => number), timeoutMs?: number): Promise<number>;
  /** Stops every process the swarm started and removes its namespaces and files. */
  destroy(): Promise<void>;
}

/** Names the hub's own devices carry. */
export const HUB_DEVICE_PREFIX = 'tnl-';
/** The device the hub's members share with `serve --member-devices shared` (server/hub/serve-hub.ts). */
export const HUB_SHARED_DEVICE = 'tc-members';

const BUILT = (file: string): URL => new URL(file, import.meta.url);

/** Builds the namespaces and the state folder of a swarm of `options.members`. */
export async function createMemberSwarm(options: MemberSwarmOptions): Promise<MemberSwarm> {
  if (!Number.isInteger(options.members) || options.members < 1 || options.members > SWARM_MAX_MEMBERS) {
    throw new RangeError(`members must be an integer from 1 to ${SWARM_MAX_MEMBERS}`);
  }
  const topology = createSwarmTopology({ hubs: options.hubs ?? 1, clients: options.clients ?? 0 });
  const workDir = mkdtempSync(join(tmpdir(), 'bench-swarm-'));
  const stops: (() => Promise<void>)[] = [];
  const hubStates = new Map<HubProcess, string>();
  let logs = 0;
  const destroy = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    topology.destroy();
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    const prepareStarted = performance.now();
    const prepared = await prepareLoadState(options.members, options.pool ?? '10.64.0.0/16', topology.hubs[0]!.address);
    stops.push(async () => rmSync(prepared.dir, { recursive: true, force: true }));
    const prepareMs = Math.round(performance.now() - prepareStarted);
    const names = prepared.tokens.map((_, i) => `m${i}`);
    const concurrency = options.concurrency ?? 100;
    const hubAt = (index: number): string => {
      const host = topology.hubs[index];
      if (!host) throw new RangeError(`no hub ${index} in this swarm`);
      return host.namespace;
    };
    const swarm: MemberSwarm = {
      topology, workDir, stateDir: prepared.dir, names, prepareMs,
      copyState: (label) => {
        const copy = join(workDir, `state-${label}`);
        cpSync(prepared.dir, copy, { recursive: true });
        return copy;
      },
      startHub: async ({ datapath, stateDir, hub = 0, args = [], nodeArgs = [] }) => {
        const dir = stateDir ?? prepared.dir;
        const started = await startHubIn({
          namespace: hubAt(hub), stateDir: dir, datapath, listen: topology.hubs[hub]!.address, args, nodeArgs, logFile: join(workDir, `hub-${++logs}-${datapath}.log`),
        });
        hubStates.set(started, dir);
        stops.push(async () => void (await started.stop()));
        return started;
      },
      startMembers: async (hub, { hubIndex = 0, cluster = false, tokens = prepared.tokens } = {}) => {
        if (tokens.length !== names.length) throw new RangeError(`one token per member: ${tokens.length} for ${names.length}`);
        const role = await startRoleIn(topology.members, BUILT('./swarm-worker.js'));
        stops.push(() => role.stop());
        await role.request('configure', { url: `ws://${topology.hubs[hubIndex]!.address}:${hub.runtime.wsPort}`, names, tokens, concurrency, cluster });
        return swarmMembers(role, names.length, 120_000 + 1000 * names.length);
      },
      startReflector: async ({ originateSeconds = 0 } = {}) => {
        const args = [topology.reflectorTun, ...(originateSeconds > 0 ? ['--originate', String(originateSeconds)] : [])];
        const role = await startRoleIn(topology.members, BUILT('./keepalive-reflector.js'), args);
        stops.push(() => role.stop());
        return { stats: () => role.request<ReflectorStats>('stats'), stop: () => role.stop() };
      },
      startAdminProbe: async (hub, hubIndex = 0) => {
        if (!hub.runtime.admin) throw new Error('the hub runs without its admin listener');
        const role = await startRoleIn(hubAt(hubIndex), BUILT('./admin-listener-probe.js'), [String(hub.runtime.admin.port)]);
        stops.push(() => role.stop());
        return {
          take: () => role.request<AnswerTimes>('take'),
          metrics: (metricNames) => role.request<MetricValues>('metrics', { names: metricNames }),
          watchEvents: async () => void (await role.request('watchEvents')),
          events: () => role.request<number>('events'),
          stop: () => role.stop(),
        };
      },
      invite: (stateDir) => withHubState(stateDir, async (state) => (await createInvite(state, { ttlMs: 86_400_000, uses: 1 })).token),
      shortcutsOff: (stateDir, peers) => withHubState(stateDir, async (state) => {
        for (const peer of peers) await state.registry.peers.setShortcuts(peer, false);
      }),
      shortcutCount: (stateDir, peer) => withHubState(stateDir, async (state) => (await state.registry.links.shortcutsOf(peer)).length),
      devices: (hub = 0) => hubDevices(hubAt(hub)),
      awaitNoDevices: async (hub = 0, timeoutMs = 300_000) => {
        const started = performance.now();
        await waitUntil(() => (hubDevices(hubAt(hub)).owned === 0 ? true : undefined), timeoutMs, 'the hub\'s devices to go');
        return Math.round(performance.now() - started);
      },
      awaitRegistryAcks: async (hub, generation, timeoutMs = 600_000) => {
        const dir = hubStates.get(hub);
        if (dir === undefined) throw new Error('not a hub of this swarm');
        const generationOf = typeof generation === 'number' ? () => generation : generation;
        const expected = new Map(names.map((name, i) => [name, swarmMemberAddress(i, generationOf(i))]));
        const registry = await Registry.open(hubStatePaths(dir).database, { readonly: true });
        try {
          let short: string[] = [];
          try {
            await waitUntil(async () => {
              short = await unacknowledged(registry, expected);
              return short.length === 0 ? true : undefined;
            }, timeoutMs, 'every ack recorded in the registry');
          } catch (err) {
            throw new Error(`${(err as Error).message}: ${short.length} of ${expected.size} short, such as ${short.slice(0, 5).join('; ')}`);
          }
        } finally {
          await registry.close();
        }
        return expected.size;
      },
      destroy,
    };
    return swarm;
  } catch (err) {
    await destroy();
    throw err;
  }
}

/**
 * Members of `expected` whose last config is not acknowledged, or was issued for another reported
 * address, each with why (`m7: version 3, acked 2, reported …, expected …`). One read of the
 * configs' versions: the watch polls every 20 ms beside the hub it times, so it must cost the
 * machine little (a dump of every table took about a core at 1,000 members).
 */
async function unacknowledged(registry: Registry, expected: ReadonlyMap<string, string>): Promise<string[]> {
  const rows = new Map((await registry.specs.configAcks()).map((row) => [row.peer, row]));
  const short: string[] = [];
  for (const [name, address] of expected) {
    const row = rows.get(name);
    if (row === undefined) short.push(`${name}: no config issued`);
    else if (row.acked !== row.version || row.reported !== address) {
      short.push(`${name}: version ${row.version}, acked ${row.acked}, reported ${row.reported ?? 'none'}, expected ${address}`);
    }
  }
  return short;
}

function swarmMembers(role: RoleProcess, size: number, phaseTimeoutMs: number): SwarmMembers {
  const generations = new Array<number>(size).fill(0);
  return {
    join: (timeoutMs = phaseTimeoutMs) => role.request<SwarmPhase>('join', { timeoutMs }),
    move: async (timeoutMs = phaseTimeoutMs, count = size) => {
      for (let i = 0; i < count; i++) generations[i]!++;
      return role.request<SwarmPhase>('move', { timeoutMs, count });
    },
    reconnect: async (on) => void (await role.request('reconnect', { on })),
    awaitBack: (since, timeoutMs = phaseTimeoutMs) => role.request<SwarmPhase>('awaitBack', { since, timeoutMs }),
    watchRoute: async (prefix, present, except) => void (await role.request('watchRoute', { prefix, present, except })),
    awaitRoute: async (timeoutMs = phaseTimeoutMs) => (await role.request<{ lastArrivalAt: number }>('awaitRoute', { timeoutMs })).lastArrivalAt,
    markHub: async () => void (await role.request('markHub')),
    awaitHub: (name, timeoutMs = phaseTimeoutMs) => role.request<SwarmHubArrival>('awaitHub', { name, timeoutMs }),
    churn: async (perSecond, share) => void (await role.request('churn', { perSecond, share })),
    stopChurn: () => role.request<SwarmChurn>('stopChurn'),
    stats: () => role.request<SwarmStats>('stats'),
    closeAll: () => role.request<number>('closeAll'),
    get generation() {
      return generations[0] ?? 0;
    },
    generationOf: (index) => generations[index] ?? 0,
    stop: () => role.stop(),
  };
}

/** The TUN devices in a hub's namespace, the hub's own being its tnl-* devices and the shared one. */
function hubDevices(namespace: string): DeviceCount {
  const own = countTunDevices(namespace, HUB_DEVICE_PREFIX);
  return { tun: own.tun, owned: own.owned + countTunDevices(namespace, HUB_SHARED_DEVICE).owned };
}

/** Runs `work` on the hub state in `stateDir`, closed afterwards. */
async function withHubState<T>(stateDir: string, work: (state: HubState) => Promise<T>): Promise<T> {
  const state = await openHubState(stateDir);
  try {
    return await work(state);
  } finally {
    await state.close();
  }
}
