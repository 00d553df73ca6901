/**
 * The member swarm's members, a role process in the members' namespace: thousands of simulated
 * members (bench/simulated-members.ts), each connecting from an address of its own and reporting
 * it, acknowledging every config and sending the keepalives the hub's welcome asks for. At most
 * `concurrency` connection attempts run at once; a refused or failed attempt is tried again after
 * a short random wait, and with `reconnect` on, so is a session the hub closed (a restart).
 *   node swarm-worker.js
 * Commands: configure, join, move, reconnect, awaitBack, stats, closeAll (see the handlers below).
 */
import { connectMember, configWhere, type SimulatedMember } from './simulated-members.js';
import { serveRole } from './role-process.js';
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

/** What `stats` answers. */
export interface SwarmStats {
  members: number;
  connected: number;
  settled: number;
  retries: number;
  keepalivesSent: number;
  /** The last failure of an attempt, for the driver's error messages. */
  lastFailure: string | null;
}

interface Member {
  index: number;
  name: string;
  token: string;
  generation: number;
  session: SimulatedMember | undefined;
  /** When the current session got its config for the current address (Date.now()), or undefined. */
  settledAt: number | undefined;
  /** Queued or in flight. */
  wanted: boolean;
  lastKeepalive: number;
}

const RETRY_MIN_MS = 250;
const RETRY_SPREAD_MS = 500;
const KEEPALIVE_TICK_MS = 1000;

let setup: Required<SwarmWorkerSetup> | undefined;
let members: Member[] = [];
const queue: Member[] = [];
let inFlight = 0;
let reconnect = false;
let retries = 0;
let keepalivesSent = 0;
let lastFailure: string | null = null;
const settledWaiters: (() => void)[] = [];

function configure(args: SwarmWorkerSetup): number {
  if (args.names.length !== args.tokens.length) throw new Error('configure: one token per name');
  setup = { attemptTimeoutMs: 300_000, ...args };
  members = args.names.map((name, index) => ({
    index, name, token: args.tokens[index]!, generation: 0, session: undefined, settledAt: undefined, wanted: false, lastKeepalive: 0,
  }));
  return members.length;
}

/** Every member not connected connects from its current address; resolves once all have their config. */
async function join(): Promise<SwarmPhase> {
  const started = Date.now();
  const before = retries;
  for (const member of members) if (member.settledAt === undefined) want(member);
  await allSettled();
  return phase(started, before);
}

/** Every member leaves its session and connects from its next address, all at once. */
async function move(): Promise<SwarmPhase> {
  const started = Date.now();
  const before = retries;
  for (const member of members) {
    member.generation++;
    drop(member);
    want(member);
  }
  await allSettled();
  return phase(started, before);
}

/** Turns reconnecting after a session the hub closed on or off. */
function setReconnect(args: { on: boolean }): boolean {
  reconnect = args.on;
  return reconnect;
}

/** Resolves once every member has a session whose config arrived after `since` (Date.now()). */
async function awaitBack(args: { since: number }): Promise<SwarmPhase> {
  const before = retries;
  await allSettled(args.since);
  return phase(args.since, before);
}

function stats(): SwarmStats {
  return {
    members: members.length,
    connected: members.filter((m) => m.session?.ws.readyState === 1).length,
    settled: members.filter((m) => m.settledAt !== undefined).length,
    retries, keepalivesSent, lastFailure,
  };
}

/** Closes every session and stops reconnecting. */
function closeAll(): number {
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

function allSettled(since = 0): Promise<void> {
  const done = (): boolean => members.every((m) => m.settledAt !== undefined && m.settledAt >= since);
  return new Promise((resolve) => {
    const check = (): void => {
      if (done()) resolve();
      else settledWaiters.push(check);
    };
    check();
  });
}

function settledChanged(): void {
  for (const waiter of settledWaiters.splice(0)) waiter();
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
  let session: SimulatedMember | undefined;
  try {
    session = await connectMember(setup!.url, member.name, member.token, { localAddress: address });
    member.session = session;
    session.ws.on('close', () => closed(member, session!));
    const current = session;
    await withTimeout(new Promise<void>((resolve, reject) => {
      current.ws.once('close', () => reject(new Error('closed before its config')));
      void configWhere(current, (config) => config.tunnels[0]?.local === address).then(() => resolve());
    }), setup!.attemptTimeoutMs);
    if (member.session !== current) return;
    member.settledAt = Date.now();
    member.wanted = false;
    member.lastKeepalive = Date.now();
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
    setTimeout(() => want(member), RETRY_MIN_MS + Math.random() * RETRY_SPREAD_MS);
  }
}

/** A session ended: the hub closed it (a restart) or the member dropped it. */
function closed(member: Member, session: SimulatedMember): void {
  if (member.session !== session) return;
  member.session = undefined;
  member.settledAt = undefined;
  if (reconnect) setTimeout(() => want(member), RETRY_MIN_MS + Math.random() * RETRY_SPREAD_MS);
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no config within ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}

/** The keepalives the hub's welcome asks for, so its liveness timeout never ends an idle member. */
setInterval(() => {
  const now = Date.now();
  for (const member of members) {
    const session = member.session;
    if (session?.keepaliveMs == null || session.ws.readyState !== 1 || now - member.lastKeepalive < session.keepaliveMs) continue;
    member.lastKeepalive = now;
    session.ws.send('{"v":1,"type":"keepalive"}');
    keepalivesSent++;
  }
}, KEEPALIVE_TICK_MS);

serveRole({ configure, join, move, reconnect: setReconnect, awaitBack, stats, closeAll }, () => {
  closeAll();
});
