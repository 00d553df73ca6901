/**
 * bench:control (b): BENCH_MEMBERS (1,000) simulated members, each connecting over WebSocket with
 * a peer token from an address of its own (bench/member-swarm.ts), against one hub in a namespace
 * of its own: with its real datapath (every member gets a GRE tunnel, the keepalives are answered)
 * and, in the same run on a copy of the same state, with `--datapath none` for the ratio
 * (BENCH_DATAPATH=engine or none runs one row). Phase 1: every member joins (hello, config, ack).
 * Phase 2: every member moves to a new address at once (it reconnects from it, so the hub verifies
 * it); measured until every member had its new config and until the registry recorded every ack.
 * Prints the hub's peak RSS.
 */
import { createMemberSwarm, type MemberSwarm } from './member-swarm.js';
import type { BenchDatapath } from './hub-process.js';
import { namespacesUnavailableReason } from './bench-namespaces.js';
import { sampleProcess } from './process-probes.js';
import { benchDatapaths } from './bench-datapaths.js';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const CONNECT_CONCURRENCY = 100;

interface Row {
  datapath: BenchDatapath;
  joinMs: number;
  joinAckedMs: number;
  moveMs: number;
  moveAckedMs: number;
  peakRssKiB: number;
  tunnels: number;
}

async function main(): Promise<void> {
  const reason = namespacesUnavailableReason();
  if (reason) throw new Error(`bench:control's load test needs namespaces: ${reason}`);
  const datapaths = benchDatapaths();
  const swarm = await createMemberSwarm({ members: MEMBERS, concurrency: CONNECT_CONCURRENCY });
  const rows: Row[] = [];
  try {
    await swarm.startReflector();
    for (const datapath of datapaths) rows.push(await run(swarm, datapath));
  } finally {
    await swarm.destroy();
  }
  console.log(`control load: ${MEMBERS} members over WebSocket (peer tokens), each from an address of its own; hub in a namespace of its own`);
  for (const row of rows) {
    console.log(`  ${row.datapath === 'engine' ? 'real datapath' : 'no datapath  '}: join (connect, hello, config, ack), ${CONNECT_CONCURRENCY} at a time: every config received after ${row.joinMs} ms, every ack recorded after ${row.joinAckedMs} ms; ${row.tunnels} TUN devices on the hub`);
    console.log(`  ${''.padEnd(13)}  all move to a new address at once: every new config received after ${row.moveMs} ms, every ack recorded in the registry after ${row.moveAckedMs} ms`);
    console.log(`  ${''.padEnd(13)}  hub peak RSS (VmHWM): ${(row.peakRssKiB / 1024).toFixed(1)} MiB`);
  }
  const [engine, none] = [rows.find((r) => r.datapath === 'engine'), rows.find((r) => r.datapath === 'none')];
  if (engine && none) {
    console.log(`  real datapath / none: join ${(engine.joinAckedMs / none.joinAckedMs).toFixed(1)}x, move ${(engine.moveAckedMs / none.moveAckedMs).toFixed(1)}x, peak RSS ${(engine.peakRssKiB / none.peakRssKiB).toFixed(1)}x`);
  }
}

async function run(swarm: MemberSwarm, datapath: BenchDatapath): Promise<Row> {
  const hub = await swarm.startHub({ datapath, stateDir: swarm.copyState(datapath) });
  const members = await swarm.startMembers(hub);
  try {
    const joinStart = performance.now();
    const joined = await members.join();
    await swarm.awaitRegistryAcks(hub, 0);
    const joinAckedMs = Math.round(performance.now() - joinStart);
    const tunnels = swarm.devices().tun;
    const moveStart = performance.now();
    const moved = await members.move();
    await swarm.awaitRegistryAcks(hub, members.generation);
    const moveAckedMs = Math.round(performance.now() - moveStart);
    return { datapath, joinMs: joined.ms, joinAckedMs, moveMs: moved.ms, moveAckedMs, peakRssKiB: sampleProcess(hub.pid).peakRssKiB, tunnels };
  } catch (err) {
    console.error(`control load (${datapath}): ${hub.errors()}`);
    throw err;
  } finally {
    await members.stop();
    await hub.stop();
    await swarm.awaitNoDevices();
  }
}

await main();
