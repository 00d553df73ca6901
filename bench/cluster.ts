/**
 * bench:cluster — two figures for several hubs on one registry:
 * 1. Failover: MEMBERS simulated members (protocol clients over WebSocket, peer tokens) on hub A;
 *    A is killed with SIGKILL; each member, as tunnel-client does, retries its hub with the
 *    client's backoff, and after FAILOVER_AFTER attempts that cannot reach it takes the next hub
 *    of the cluster list its config carries (chooseHub). Timed: until every member has B's config
 *    acknowledged, as B's members see it and as the registry records it.
 * 2. Allocations per second (a peer add each: peer row, hub link, GRE key, /30, audit entry; one
 *    transaction each) on PostgreSQL beside a SQLite file, in the same run; then PostgreSQL with
 *    two writers at once.
 * The hubs run without a datapath (`--datapath none`), on 127.0.0.1 and 127.0.0.2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { backoffDelay, DEFAULT_BACKOFF } from '../client/session/backoff.js';
import { chooseHub } from '../client/session/choose-hub.js';
import { joinCluster } from '../server/hub-state/join-cluster.js';
import { readServeRuntime } from '../server/hub/serve-runtime-file.js';
import { Registry } from '../server/registry/registry.js';
import { postgresUnavailableReason, startPostgres } from '../test/helpers/postgres-server.js';
import { addLoadPeers, HUB_CLI, waitUntil } from './simulated-members.js';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const ALLOCATIONS = Number(process.env.BENCH_ALLOCATIONS ?? 2000);
const CONNECT_CONCURRENCY = 50;
const PHASE_TIMEOUT_MS = 120_000;

interface ClusterHub { name: string; url: string; endpoint: string; hostKey: string }
interface Member {
  name: string;
  token: string;
  ws: WebSocket | undefined;
  hub: string;
  hubs: ClusterHub[];
  url: string;
  unreachable: number;
  openedOnB: number | undefined;
  ackedOnB: number | undefined;
}

async function main(): Promise<void> {
  const reason = postgresUnavailableReason();
  if (reason) {
    console.log(`bench:cluster skipped: ${reason}`);
    return;
  }
  const server = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  const children: ChildProcess[] = [];
  try {
    await failover(await server.createDatabase('failover'), dir, children);
    await allocations(await server.createDatabase('alloc'), join(dir, 'alloc.sqlite'));
    await concurrentAllocations(await server.createDatabase('alloc2'));
  } finally {
    for (const child of children) child.kill('SIGKILL');
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function failover(url: string, dir: string, children: ChildProcess[]): Promise<void> {
  const stateA = join(dir, 'a');
  const stateB = join(dir, 'b');
  await joinCluster(stateA, { registry: url, hubName: 'hub', endpoint: '127.0.0.1', pool: '10.64.0.0/16' });
  await joinCluster(stateB, { registry: url, hubName: 'hub2', endpoint: '127.0.0.2' });
  const tokens = await addLoadPeers(stateA, MEMBERS);
  const hubA = serve(stateA, '127.0.0.1', children);
  const hubB = serve(stateB, '127.0.0.2', children);
  const urlA = `ws://127.0.0.1:${(await waitUntil(() => readServeRuntime(stateA)?.pid === hubA.pid ? readServeRuntime(stateA) : undefined, 20_000, 'hub A')).wsPort}`;
  await waitUntil(() => readServeRuntime(stateB)?.pid === hubB.pid ? true : undefined, 20_000, 'hub B');

  let stopped = false;
  const members: Member[] = tokens.map((token, i) => ({ name: `m${i}`, token, ws: undefined, hub: 'hub', hubs: [], url: urlA, unreachable: 0, openedOnB: undefined, ackedOnB: undefined }));
  const joinStart = performance.now();
  for (let i = 0; i < members.length; i += CONNECT_CONCURRENCY) {
    await Promise.all(members.slice(i, i + CONNECT_CONCURRENCY).map((member) => connect(member)));
  }
  await waitUntil(() => members.every((m) => m.hubs.length === 2) ? true : undefined, PHASE_TIMEOUT_MS, 'configs listing both hubs');
  const joinMs = performance.now() - joinStart;

  const killed = performance.now();
  hubA.kill('SIGKILL');
  await waitUntil(() => members.every((m) => m.ackedOnB !== undefined) ? true : undefined, PHASE_TIMEOUT_MS, 'every member acknowledged on hub B');
  const ackedMs = Math.max(...members.map((m) => m.ackedOnB as number)) - killed;
  const registry = await Registry.open(url, { readonly: true });
  try {
    await waitUntil(async () => {
      const owners = await registry.sessions.owners();
      if ([...owners.values()].filter((hub) => hub === 'hub2').length < MEMBERS) return undefined;
      const { tables } = await registry.exportTables();
      const configs = tables.peer_configs as { version: number; acked_version: number }[];
      return configs.filter((row) => row.acked_version === row.version).length >= MEMBERS ? true : undefined;
    }, PHASE_TIMEOUT_MS, 'the registry to record every ack on hub B');
  } finally {
    await registry.close();
  }
  const recordedMs = performance.now() - killed;
  stopped = true;
  for (const member of members) member.ws?.terminate();
  console.log(`failover: ${MEMBERS} members on hub A (joined ${CONNECT_CONCURRENCY} at a time in ${Math.round(joinMs)} ms); kill -9 of A`);
  console.log(`  every member has hub B's config acknowledged ${Math.round(ackedMs)} ms after the kill; the registry records them all (owner hub2, acked) after ${Math.round(recordedMs)} ms`);
  console.log(`  after the kill, ms: connected to B ${spread(members.map((m) => (m.openedOnB as number) - killed))}; B's config acknowledged ${spread(members.map((m) => (m.ackedOnB as number) - killed))}`);

  function connect(member: Member): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WebSocket(member.url, { headers: { authorization: `Bearer ${member.token}` } });
      member.ws = ws;
      let opened = false;
      ws.on('open', () => {
        opened = true;
        member.unreachable = 0;
        if (member.hub === 'hub2' && member.openedOnB === undefined) member.openedOnB = performance.now();
        ws.send(JSON.stringify({ v: 1, type: 'hello', software: 'bench', endpoint: '127.0.0.1' }));
        resolve();
      });
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string; version?: number; cluster?: { hub: string; hubs: ClusterHub[] } };
        if (message.type !== 'config' || message.version === undefined) return;
        ws.send(JSON.stringify({ v: 1, type: 'ack', version: message.version }));
        if (message.cluster) {
          member.hubs = message.cluster.hubs;
          member.hub = message.cluster.hub;
          if (message.cluster.hub === 'hub2' && member.ackedOnB === undefined) member.ackedOnB = performance.now();
        }
      });
      ws.on('error', () => undefined);
      ws.on('close', () => {
        if (!opened) member.unreachable += 1;
        resolve();
        if (stopped) return;
        // As tunnel-client does: back off, and move after FAILOVER_AFTER attempts that could not reach the hub.
        const choice = chooseHub({ hubs: member.hubs, current: member.hub, unreachable: member.unreachable });
        if (choice.moved && choice.hub) {
          member.hub = choice.hub.name;
          member.url = choice.hub.url;
          member.unreachable = 0;
          void connect(member);
          return;
        }
        setTimeout(() => void connect(member), backoffDelay(member.unreachable, DEFAULT_BACKOFF));
      });
    });
  }
}

async function allocations(postgresUrl: string, sqliteFile: string): Promise<void> {
  const rates: string[] = [];
  for (const [name, location] of [['SQLite file', sqliteFile], ['PostgreSQL', postgresUrl]] as const) {
    const registry = await Registry.open(location);
    try {
      await registry.settings.setEndpoint('198.51.100.1');
      await registry.pools.add('10.96.0.0/16');
      const start = performance.now();
      for (let i = 0; i < ALLOCATIONS; i++) await registry.peers.add({ name: `p${i}` });
      const perSecond = ALLOCATIONS / ((performance.now() - start) / 1000);
      rates.push(`${name} ${Math.round(perSecond)}/s`);
    } finally {
      await registry.close();
    }
  }
  console.log(`allocations (peer add with its /30, one transaction each, ${ALLOCATIONS} in a row): ${rates.join(', ')}`);
}

async function concurrentAllocations(url: string): Promise<void> {
  const setup = await Registry.open(url);
  await setup.settings.setEndpoint('198.51.100.1');
  await setup.pools.add('10.96.0.0/16');
  await setup.close();
  const writers = await Promise.all([Registry.open(url), Registry.open(url)]);
  const start = performance.now();
  try {
    await Promise.all(writers.map(async (registry, w) => {
      for (let i = 0; i < ALLOCATIONS / 2; i++) await registry.peers.add({ name: `w${w}-${i}` });
    }));
  } finally {
    await Promise.all(writers.map((registry) => registry.close()));
  }
  console.log(`  PostgreSQL, two writers at once (two hubs): ${Math.round(ALLOCATIONS / ((performance.now() - start) / 1000))}/s together`);
}

/** p50 / p90 / max of a list of durations. */
function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
  return `p50 ${at(0.5)}, p90 ${at(0.9)}, max ${at(1)}`;
}

function serve(stateDir: string, listen: string, children: ChildProcess[]): ChildProcess {
  const child = spawn(process.execPath, [HUB_CLI, '--state', stateDir, 'serve', '--listen', listen, '--ws-port', '0', '--ssh-port', '0', '--datapath', 'none',
    '--keepalive', '30', '--liveness-timeout', '120', '--no-admin',
    // Every simulated member connects from 127.0.0.1: lift the per-address limits a real hub keeps.
    '--per-source-rate', '10000', '--per-source-max', '100000'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TUNNEL_LOG_LEVEL: 'warn' } });
  children.push(child);
  return child;
}

try {
  await main();
} catch (err) {
  // Simulated members still retrying their hubs would keep the process alive.
  console.error(err);
  process.exit(1);
}
