/**
 * bench:soak — BENCH_MEMBERS (1,000) simulated members joining, leaving and moving against one hub
 * for SOAK_SECONDS (600), with default limits and timings. The hub runs in a namespace of its own
 * (bench/member-swarm.ts) with its real datapath: each member connects from an address of its own
 * in 100.64.0.0/10 and gets a GRE tunnel, whose keepalives the reflector answers; then, in the
 * same run on a copy of the same state, with `--datapath none` for the ratio (BENCH_DATAPATH=engine
 * or none runs one row). A move is a reconnect from the member's next address, which the hub
 * verifies and reconfigures for; members ack every config and send keepalives; about 90 % are
 * connected at any time. One viewer watches the status page's event stream throughout. Every 10 s
 * the hub's own /metrics gives its RSS, V8 heap and open descriptors, and the namespace its TUN
 * devices; printed at the start (after a warm-up of churn), the middle and the end, with the
 * spread. Target: flat within 10 %.
 */
import { benchDatapaths } from './bench-datapaths.js';
import { namespacesUnavailableReason } from './bench-namespaces.js';
import type { BenchDatapath } from './hub-process.js';
import { createMemberSwarm, type MemberSwarm } from './member-swarm.js';
import type { SwarmChurn } from './swarm-worker.js';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
/** Leaves, joins and moves per second, spread over the run. */
const CHURN_PER_SECOND = Number(process.env.SOAK_CHURN ?? 20);
const SHARE_CONNECTED = 0.9;
const SAMPLE_MS = 10_000;
/** Churn before the first sample, so it is taken in the steady state (population ~90 %, heap grown). */
const WARMUP_MS = Math.min(60, SECONDS / 5) * 1000;
/** The V8 heap saws up and down with garbage collection: a leak shows as its floor rising, so the floor around each point is printed too. */
const FLOOR_WINDOW_MS = 60_000;
const METRICS = ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes', 'process_open_fds'];

interface Sample {
  at: number;
  rss: number;
  heap: number;
  /** What V8 holds for its heap (used or not) and memory outside it (buffers): RSS beyond the heap in use. */
  heapTotal: number;
  external: number;
  fds: number;
  /** TUN devices in the hub's namespace. */
  tun: number;
}

async function main(): Promise<void> {
  const reason = namespacesUnavailableReason();
  if (reason) throw new Error(`bench:soak needs namespaces: ${reason}`);
  const datapaths = benchDatapaths();
  const swarm = await createMemberSwarm({ members: MEMBERS });
  try {
    await swarm.startReflector();
    for (const datapath of datapaths) await soak(swarm, datapath);
  } finally {
    await swarm.destroy();
  }
}

async function soak(swarm: MemberSwarm, datapath: BenchDatapath): Promise<void> {
  const hub = await swarm.startHub({ datapath, stateDir: swarm.copyState(`soak-${datapath}`) });
  const probe = await swarm.startAdminProbe(hub);
  const members = await swarm.startMembers(hub);
  const label = datapath === 'engine' ? 'real datapath' : 'no datapath';
  let sampler: NodeJS.Timeout | undefined;
  try {
    const joined = await members.join();
    console.log(`soak (${label}): ${MEMBERS} members joined, each from an address of its own, in ${joined.ms} ms; churn ${CHURN_PER_SECOND}/s around ${SHARE_CONNECTED * 100} % connected, ${WARMUP_MS / 1000} s of warm-up, then ${SECONDS} s measured`);
    await probe.watchEvents();
    await members.churn(CHURN_PER_SECOND, SHARE_CONNECTED);
    const samples: Sample[] = [];
    const sample = async (): Promise<Sample> => {
      const values = await probe.metrics(METRICS);
      return { at: Date.now(), rss: values.process_resident_memory_bytes!, heap: values.nodejs_heap_size_used_bytes!, heapTotal: values.nodejs_heap_size_total_bytes!,
        external: values.nodejs_external_memory_bytes!, fds: values.process_open_fds!, tun: swarm.devices().tun };
    };
    sampler = setInterval(() => void sample().then((s) => samples.push(s), (err: Error) => console.error(`soak: sample failed: ${err.message}`)), SAMPLE_MS);
    await sleep(WARMUP_MS);
    const started = Date.now();
    await sleep(SECONDS * 1000);
    clearInterval(sampler);
    const churned: SwarmChurn = await members.stopChurn();
    samples.push(await sample());
    if (hub.exited()) throw new Error(`the hub exited: ${hub.errors()}`);
    report(label, samples, started, churned, await probe.events());
  } catch (err) {
    console.error(`soak (${label}): ${hub.errors()}`);
    throw err;
  } finally {
    clearInterval(sampler);
    await probe.stop();
    await members.stop();
    await hub.stop();
    await swarm.awaitNoDevices();
  }
}

function report(label: string, samples: Sample[], started: number, churned: SwarmChurn, events: number): void {
  const nearest = (at: number): Sample => samples.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best));
  const [first, middle, last] = [nearest(started), nearest(started + SECONDS * 500), samples[samples.length - 1] as Sample];
  const floor = (point: Sample): number => Math.min(...samples.filter((s) => Math.abs(s.at - point.at) <= FLOOR_WINDOW_MS / 2).map((s) => s.heap));
  const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
  const change = (a: number, b: number): string => (a === 0 ? (b === 0 ? '+0.0 %' : '-') : `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`);
  const spread = (pick: (s: Sample) => number, show: (n: number) => string): string => `${show(Math.min(...samples.map(pick)))} .. ${show(Math.max(...samples.map(pick)))}`;
  const row = (name: string, pick: (s: Sample) => number, show: (n: number) => string): string =>
    `  ${name.padEnd(15)}${show(pick(first)).padEnd(15)}${show(pick(middle)).padEnd(15)}${show(pick(last)).padEnd(15)}${change(pick(first), pick(last)).padEnd(15)}${spread(pick, show)}`;
  console.log(`soak (${label}): ${churned.joins} joins, ${churned.leaves} leaves, ${churned.moves} moves, ${churned.configs} configs acked, ${churned.refused} attempts retried, ${events} status-page updates; ${samples.length} samples`);
  console.log('                 start          middle         end            end vs start   spread');
  console.log(row('hub RSS', (s) => s.rss, mib));
  console.log(row('hub V8 heap', (s) => s.heap, mib));
  console.log(`  heap floor *   ${mib(floor(first)).padEnd(15)}${mib(floor(middle)).padEnd(15)}${mib(floor(last)).padEnd(15)}${change(floor(first), floor(last))}`);
  console.log(row('V8 heap held', (s) => s.heapTotal, mib));
  console.log(row('V8 external', (s) => s.external, mib));
  console.log(row('hub open fds', (s) => s.fds, String));
  console.log(row('TUN devices', (s) => s.tun, String));
  console.log(`  * the lowest heap sampled within ${FLOOR_WINDOW_MS / 2000} s of the point: what garbage collection leaves, where a leak would show`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

await main();
