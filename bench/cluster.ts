/**
 * bench:cluster — two figures for several hubs on one registry:
 * 1. Failover: BENCH_MEMBERS (1,000) simulated members (bench/member-swarm.ts: over WebSocket with
 *    peer tokens, each from an address of its own) on hub A; A is killed with SIGKILL; each
 *    member, as tunnel-client does, retries its hub with the client's backoff, and after
 *    FAILOVER_AFTER attempts that cannot reach it takes the next hub of the cluster list its
 *    config carries (chooseHub). Timed: until every member has B's config, as the members see it
 *    and as the registry records every ack. Both hubs run in namespaces of their own with their
 *    real datapath, then in the same run on a fresh database with `--datapath none`
 *    (BENCH_DATAPATH=engine or none runs one row).
 * 2. Allocations per second (a peer add each: peer row, hub link, GRE key, /30, audit entry; one
 *    transaction each) on PostgreSQL beside a SQLite file, in the same run; then PostgreSQL with
 *    two writers at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinCluster } from '../server/hub-state/join-cluster.js';
import { Registry } from '../server/registry/registry.js';
import { postgresUnavailableReason, startPostgres } from '../test/helpers/postgres-server.js';
import { benchDatapaths } from './bench-datapaths.js';
import { namespacesUnavailableReason } from './bench-namespaces.js';
import type { BenchDatapath } from './hub-process.js';
import { createMemberSwarm, type MemberSwarm } from './member-swarm.js';
import { addLoadPeers, waitUntil } from './simulated-members.js';
import type { SwarmHubHost } from './swarm-topology.js';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const ALLOCATIONS = Number(process.env.BENCH_ALLOCATIONS ?? 2000);
const CONNECT_CONCURRENCY = 50;
const PHASE_TIMEOUT_MS = 120_000 + 1000 * MEMBERS;

async function main(): Promise<void> {
  const reason = postgresUnavailableReason();
  if (reason) {
    console.log(`bench:cluster skipped: ${reason}`);
    return;
  }
  const namespaces = namespacesUnavailableReason();
  if (namespaces) {
    console.log(`bench:cluster skipped: ${namespaces}`);
    return;
  }
  const datapaths = benchDatapaths();
  const server = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  const swarm = await createMemberSwarm({ members: MEMBERS, hubs: 2, concurrency: CONNECT_CONCURRENCY });
  try {
    await swarm.startReflector();
    for (const datapath of datapaths) await failover(await server.createDatabase(`failover_${datapath}`), dir, swarm, datapath);
    await allocations(await server.createDatabase('alloc'), join(dir, 'alloc.sqlite'));
    await concurrentAllocations(await server.createDatabase('alloc2'));
  } finally {
    await swarm.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One failover row: hubs A and B (`datapath`) on a fresh database, every member on A, then kill -9 of A. */
async function failover(url: string, dir: string, swarm: MemberSwarm, datapath: BenchDatapath): Promise<void> {
  const stateA = join(dir, `a-${datapath}`);
  const stateB = join(dir, `b-${datapath}`);
  const [hostA, hostB] = swarm.topology.hubs as [SwarmHubHost, SwarmHubHost];
  await joinCluster(stateA, { registry: url, hubName: 'hub', endpoint: hostA.address, pool: '10.64.0.0/16' });
  await joinCluster(stateB, { registry: url, hubName: 'hub2', endpoint: hostB.address });
  const tokens = await addLoadPeers(stateA, MEMBERS);
  const args = ['--keepalive', '30', '--liveness-timeout', '120', '--no-admin'];
  const hubA = await swarm.startHub({ datapath, stateDir: stateA, hub: 0, args });
  const hubB = await swarm.startHub({ datapath, stateDir: stateB, hub: 1, args });
  const members = await swarm.startMembers(hubA, { cluster: true, tokens });
  const label = datapath === 'engine' ? 'real datapath' : 'no datapath';
  try {
    const joined = await members.join();
    await members.reconnect(true);
    await members.markHub();
    const killed = Date.now();
    process.kill(hubA.pid, 'SIGKILL');
    const arrival = await members.awaitHub('hub2', PHASE_TIMEOUT_MS);
    const ackedMs = Math.max(...arrival.configAt) - killed;
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
    const recordedMs = Date.now() - killed;
    const tunnelsB = swarm.devices(1).tun;
    console.log(`failover (${label}): ${MEMBERS} members, each from an address of its own, on hub A (joined in ${joined.ms} ms); kill -9 of A; hubs in namespaces of their own`);
    console.log(`  every member has hub B's config acknowledged ${ackedMs} ms after the kill; the registry records them all (owner hub2, acked) after ${recordedMs} ms; ${tunnelsB} TUN devices on B`);
    console.log(`  after the kill, ms: connected to B ${spread(arrival.openedAt.map((at) => at - killed))}; B's config received ${spread(arrival.configAt.map((at) => at - killed))}`);
  } catch (err) {
    console.error(`failover (${label}): hub B: ${hubB.errors()}`);
    throw err;
  } finally {
    await members.stop();
    await hubB.stop();
    await hubA.stop();
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

try {
  await main();
} catch (err) {
  // Simulated members still retrying their hubs would keep the process alive.
  console.error(err);
  process.exit(1);
}
