/**
 * The member swarm's members, a role process in the members' namespace: thousands of simulated
 * members (bench/simulated-members.ts), each connecting from an address of its own and reporting
 * it, acknowledging every config and answering each of the hub's keepalives, as tunnel-client does. At most
 * `concurrency` connection attempts run at once; a refused or failed attempt is tried again after
 * tunnel-client's own backoff (client/session/backoff.ts), and with `reconnect` on, so is a
 * session the hub closed (a restart). In a cluster (`cluster: true`) a member that cannot reach
 * its hub moves to the next one its config lists, as tunnel-client does (chooseHub). Every phase
 * gives up after its `timeoutMs`.
 *   node swarm-worker.js
 * Commands: configure, join, move, reconnect, awaitBack, watchRoute, awaitRoute, markHub, awaitHub,
 * churn, stopChurn, stats, closeAll.
 */
import { backoffDelay } from '../client/session/backoff.js';
import { chooseHub } from '../client/session/choose-hub.js';
import { serveRole } from './role-process.js';
import { configWhere, connectMember, type SimulatedConfig, type SimulatedMember } from './simulated-members.js';
import { swarmMemberAddress } from './swarm-addresses.js';

/** What `configure` takes. */
export interface SwarmWorkerSetup {
  /** The hub's WebSocket URL. */
  url: string;
  names: string[];
  tokens: string[];
  /** Connection attempts at once (the hub's door keeps 512 not yet authenticated). */
  concurrency: number;
  /** How long one attempt may wait for its config before it is dropped and tried again. */
  attemptTimeoutMs?: number;
  /** Follow the cluster's hub list when the hub cannot be reached. */
  cluster?: boolean;
}

/** What `join`, `move` and `awaitBack` answer. */
export interface SwarmPhase {
  /** From the command (or `since`) until the last member had its config for its current address. */
  ms: number;
  /** Attempts that failed and were tried again. */
  retries: number;
  /** When the last config arrived (Date.now()). */
  lastConfigAt: number;
}

/** What `awaitHub` answers: per member, when it first connected to that hub and first had its config (Date.now()). */
export interface SwarmHubArrival {
  openedAt: number[];
  configAt: number[];
}

/** What `stopChurn` answers. */
export interface SwarmChurn {
  joins: number;
  leaves: number;
  moves: number;
  /** Configs acknowledged meanwhile. */
  configs: number;
  /** Attempts that failed (refused at the door, closed early) and were tried again. */
  refused: number;
}

/** What `stats` answers. */
export interface SwarmStats {
  members: number;
  connected: number;
  settled: number;
  retries: number;
  configs: number;
  keepalivesSent: number;
  /** The last failure of an attempt, for the driver's error messages. */
  lastFailure: string | null;
}

interface Member {
  index: number;
  name: string;
  token: string;
  generation: number;
  /** Where it connects: the configured hub, or in a cluster the one it moved to. */
  url: string;
  /** The cluster's hubs from its last config (empty for a hub alone). */
  hubs: { name: string; url: string }[];
  /** The hub it is on, as its last config named it. */
  hubName: string | undefined;
  /** Attempts in a row that could not reach `url` (chooseHub's count). */
  unreachable: number;
  session: SimulatedMember | undefined;
  /** When the current session got its config for the current address (Date.now()), or undefined. */
  settledAt: number | undefined;
  /** Queued or in flight. */
  wanted: boolean;
  /** Failed attempts since the last success (the backoff's attempt number). */
  failures: number;
  /** Per URL, when it was first connected to after the last `awaitHub` mark. */
  openedAt: Map<string, number>;
}

const CHURN_TICK_MS = 100;

let setup: Required<SwarmWorkerSetup> | undefined;
let members: Member[] = [];
const queue: Member[] = [];
let inFlight = 0;
/** On by default, as tunnel-client: a session the hub closes (a restart, its liveness timeout) is tried again. */
let reconnect = true;
let retries = 0;
let configs = 0;
let keepalivesSent = 0;
let lastFailure: string | null = null;
const settledWaiters: (() => void)[] = [];
let churnTimer: NodeJS.Timeout | undefined;
let churned: SwarmChurn = { joins: 0, leaves: 0, moves: 0, configs: 0, refused: 0 };

function configure(args: SwarmWorkerSetup): number {
  if (args.names.length !== args.tokens.length) throw new Error('configure: one token per name');
  setup = { attemptTimeoutMs: 300_000, cluster: false, ...args };
  members = args.names.map((name, index) => ({
    index, name, token: args.tokens[index]!, generation: 0, url: args.url, hubs: [], hubName: undefined, unreachable: 0,
    session: undefined, settledAt: undefined, wanted: false, failures: 0, openedAt: new Map(),
  }));
  return members.length;
}

/** How long a phase may take. */
interface PhaseArgs {
  timeoutMs: number;
}

/** Every member not connected connects from its current address; resolves once all have their config. */
async function join(args: PhaseArgs): Promise<SwarmPhase> {
  const started = Date.now();
  const before = retries;
  for (const member of members) if (member.settledAt === undefined) want(member);
  await allSettled(0, args.timeoutMs, 'join');
  return phase(started, before);
}

/** Every member (or the first `count`) leaves its session and connects from its next address, all at once. */
async function move(args: PhaseArgs & { count?: number }): Promise<SwarmPhase> {
  const started = Date.now();
  const before = retries;
  for (const member of members.slice(0, args.count ?? members.length)) moveMember(member);
  await allSettled(0, args.timeoutMs, 'move');
  return phase(started, before);
}

/** Turns reconnecting after a session the hub closed on or off. */
function setReconnect(args: { on: boolean }): boolean {
  reconnect = args.on;
  return reconnect;
}

/** Resolves once every member has a session whose config arrived after `since` (Date.now()). */
async function awaitBack(args: PhaseArgs & { since: number }): Promise<SwarmPhase> {
  const before = retries;
  await allSettled(args.since, args.timeoutMs, 'return');
  return phase(args.since, before);
}

let routeWatch: Promise<number[]> | undefined;

/**
 * Starts watching for every member's first config newer than the one it has now that carries
 * `prefix` among its hub tunnel's routes (or, `present` false, no longer carries it); `except`
 * names the member that owns the prefix. Call it before the change, then awaitRoute.
 */
function watchRoute(args: { prefix: string; present: boolean; except?: string }): number {
  const others = members.filter((m) => m.name !== args.except);
  routeWatch = Promise.all(others.map((member) => {
    const session = member.session;
    if (!session) return Promise.reject(new Error(`${member.name} is not connected`));
    const before = session.configs.at(-1)?.version ?? 0;
    return configWhere(session, (config) => config.version > before
      && (config.tunnels.find((t) => t.name === 'tnl-hub')?.routes ?? []).includes(args.prefix) === args.present)
      .then((config) => session.arrivals[session.configs.indexOf(config)]! - performance.now() + Date.now());
  }));
  routeWatch.catch(() => undefined);
  return others.length;
}

/** Resolves with when (Date.now()) the last member watched by watchRoute had its config. */
async function awaitRoute(args: PhaseArgs): Promise<{ lastArrivalAt: number }> {
  if (!routeWatch) throw new Error('awaitRoute: call watchRoute first');
  const arrivals = await withTimeout(routeWatch, args.timeoutMs, 'every member\'s config with the route change');
  routeWatch = undefined;
  return { lastArrivalAt: Math.max(...arrivals) };
}

/** Starts timing arrivals on hub `name` (see awaitHub): forgets earlier ones. */
function markHub(): number {
  for (const member of members) member.openedAt.clear();
  return members.length;
}

/**
 * Resolves once every member's current session is on hub `name` (its config says so); answers
 * when each first connected to it since markHub and when its config from it arrived.
 */
async function awaitHub(args: PhaseArgs & { name: string }): Promise<SwarmHubArrival> {
  const on = (m: Member): boolean => m.hubName === args.name && m.settledAt !== undefined && m.session !== undefined;
  await withTimeout(new Promise<void>((resolve) => {
    const check = (): void => {
      if (members.every(on)) resolve();
      else settledWaiters.push(check);
    };
    check();
  }), args.timeoutMs, `every member on ${args.name} (${members.filter(on).length} of ${members.length})`);
  return {
    openedAt: members.map((m) => m.openedAt.get(m.url) ?? NaN),
    configAt: members.map((m) => m.settledAt!),
  };
}

/**
 * Churn as members do over a day: `perSecond` events, a third of them moves (a reconnect from the
 * member's next address), the rest leaves while more than `share` of the members are connected,
 * else joins, so the population hovers around `share`.
 */
function churn(args: { perSecond: number; share: number }): boolean {
  stopChurn();
  churned = { joins: 0, leaves: 0, moves: 0, configs: 0, refused: 0 };
  const startedConfigs = configs;
  const startedRetries = retries;
  const pick = <T>(list: T[]): T | undefined => list[Math.floor(Math.random() * list.length)];
  churnTimer = setInterval(() => {
    churned.configs = configs - startedConfigs;
    churned.refused = retries - startedRetries;
    for (let i = 0; i < (args.perSecond * CHURN_TICK_MS) / 1000; i++) {
      const connected = members.filter((m) => m.settledAt !== undefined);
      if (Math.random() < 1 / 3) {
        const member = pick(connected);
        if (!member) continue;
        churned.moves++;
        moveMember(member);
      } else if (connected.length > members.length * args.share) {
        const member = pick(connected);
        if (!member) continue;
        churned.leaves++;
        member.wanted = false;
        drop(member);
      } else {
        const member = pick(members.filter((m) => m.session === undefined && !m.wanted));
        if (!member) continue;
        churned.joins++;
        want(member);
      }
    }
  }, CHURN_TICK_MS);
  return true;
}

function stopChurn(): SwarmChurn {
  if (churnTimer !== undefined) clearInterval(churnTimer);
  churnTimer = undefined;
  return { ...churned };
}

function stats(): SwarmStats {
  return {
    members: members.length,
    connected: members.filter((m) => m.session?.ws.readyState === 1).length,
    settled: members.filter((m) => m.settledAt !== undefined).length,
    retries, configs, keepalivesSent, lastFailure,
  };
}

/** Closes every session and stops reconnecting and churning. */
function closeAll(): number {
  stopChurn();
  reconnect = false;
  queue.length = 0;
  let closed = 0;
  for (const member of members) {
    if (member.session) closed++;
    member.wanted = false;
    drop(member);
  }
  return closed;
}

function phase(started: number, retriesBefore: number): SwarmPhase {
  const lastConfigAt = Math.max(...members.map((m) => m.settledAt ?? 0));
  return { ms: lastConfigAt - started, retries: retries - retriesBefore, lastConfigAt };
}

/** Resolves once every member settled after `since`; rejects after `timeoutMs`, saying how far it got. */
function allSettled(since: number, timeoutMs: number, what: string): Promise<void> {
  const settled = (): number => members.filter((m) => m.settledAt !== undefined && m.settledAt >= since).length;
  return withTimeout(new Promise<void>((resolve) => {
    const check = (): void => {
      if (settled() === members.length) resolve();
      else settledWaiters.push(check);
    };
    check();
  }), timeoutMs, `${what}: ${members.length} members`, () => `${settled()} had their config (${retries} retries; last failure: ${lastFailure ?? 'none'})`);
}

function settledChanged(): void {
  for (const waiter of settledWaiters.splice(0)) waiter();
}

function moveMember(member: Member): void {
  member.generation++;
  drop(member);
  want(member);
}

/** Ends a member's session on purpose (no reconnect for it). */
function drop(member: Member): void {
  const session = member.session;
  member.session = undefined;
  member.settledAt = undefined;
  session?.ws.terminate();
}

function want(member: Member): void {
  if (member.wanted) return;
  member.wanted = true;
  queue.push(member);
  pump();
}

function pump(): void {
  while (setup !== undefined && inFlight < setup.concurrency && queue.length > 0) {
    const member = queue.shift()!;
    if (!member.wanted) continue;
    inFlight++;
    void attempt(member).finally(() => {
      inFlight--;
      pump();
    });
  }
}

/** One connection from the member's current address, until its config for that address arrived. */
async function attempt(member: Member): Promise<void> {
  const address = swarmMemberAddress(member.index, member.generation);
  const url = member.url;
  let session: SimulatedMember | undefined;
  try {
    try {
      session = await connectMember(url, member.name, member.token, {
        localAddress: address, onConfig: (config) => configured(member, config), onKeepalive: () => keepalivesSent++, pathLiveness: true,
      });
    } catch (err) {
      member.unreachable++;
      throw err;
    }
    member.unreachable = 0;
    if (!member.openedAt.has(url)) member.openedAt.set(url, Date.now());
    member.session = session;
    const current = session;
    current.ws.on('close', () => closed(member, current));
    await withTimeout(new Promise<void>((resolve, reject) => {
      current.ws.once('close', () => reject(new Error('closed before its config')));
      void configWhere(current, (config) => config.tunnels[0]?.local === address).then(() => resolve());
    }), setup!.attemptTimeoutMs, 'a config');
    if (member.session !== current) return;
    member.settledAt = Date.now();
    member.wanted = false;
    member.failures = 0;
    settledChanged();
  } catch (err) {
    lastFailure = (err as Error).message;
    if (session && member.session === session) {
      member.session = undefined;
      session.ws.terminate();
    }
    if (!member.wanted) return;
    retries++;
    member.wanted = false;
    retry(member);
  }
}

/** Tries again after the backoff, or at once on the next hub of the cluster when this one is unreachable. */
function retry(member: Member): void {
  if (setup!.cluster) {
    const choice = chooseHub({ hubs: member.hubs, current: member.hubName ?? member.hubs.find((hub) => hub.url === member.url)?.name, unreachable: member.unreachable });
    if (choice.moved && choice.hub) {
      member.url = choice.hub.url;
      member.unreachable = 0;
      want(member);
      return;
    }
  }
  setTimeout(() => want(member), backoffDelay(member.failures++));
}

function configured(member: Member, config: SimulatedConfig): void {
  configs++;
  if (config.cluster) {
    member.hubs = config.cluster.hubs;
    member.hubName = config.cluster.hub;
  }
}

/** A session ended: the hub closed it (a restart, a kill) or the member dropped it. */
function closed(member: Member, session: SimulatedMember): void {
  if (member.session !== session) return;
  member.session = undefined;
  member.settledAt = undefined;
  if (!reconnect || member.wanted) return;
  setTimeout(() => {
    if (reconnect) want(member);
  }, backoffDelay(member.failures++));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, progress: () => string = () => ''): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<T>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}${progress() ? `: ${progress()}` : ''}`)), ms);
  })]).finally(() => clearTimeout(timer));
}

serveRole({
  configure, join, move, reconnect: setReconnect, awaitBack, watchRoute, awaitRoute, markHub, awaitHub, churn, stopChurn, stats, closeAll,
}, () => {
  closeAll();
});
