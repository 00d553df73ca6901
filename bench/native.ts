/**
 * Benchmark of the native packet I/O: packets per second and CPU time of a JS loop moving
 * 1400-byte packets (a) TUN -> JS -> raw GRE socket and (b) UDP -> JS -> TUN, at batch sizes
 * 1, 16 and 64. Builds its own namespace pair (A 192.0.2.1, B 192.0.2.2), runs each case for a
 * bounded time, prints figures, and removes the namespaces. Needs root.
 *   npm run bench:native [-- SECONDS]       (default 3 s measured per case)
 *
 * What is measured is the forwarder: one Node process pinned to one core, reading a batch from
 * one native endpoint and writing it to the other. Everything else is made as cheap as it can be
 * made without skipping a packet:
 * - The sinks count and drop the forwarded packets at the netdev ingress hook of the interface
 *   they arrive on (GRE at B's veth, inner packets at A's TUN), before IP input. Both run on the
 *   forwarder's core, inside its sendmmsg/write: a veth or TUN delivers inline, so its figures
 *   include that receive work (about 1 us per packet for GRE into B, measured with perf).
 * - The UDP load sends with UDP segmentation offload (see native-load.ts): the forwarder still
 *   receives one 1400-byte datagram per slot, but one load core can now outrun it.
 * - "UDP GRO" turns on UDP receive offload at the forwarder: the kernel then hands over each
 *   segmented send (46 datagrams) in one receive, as a NIC's GRO would coalesce a burst from one
 *   sender, and the addon splits it back into one 1400-byte datagram per slot. Over a real NIC the
 *   coalescing depends on its GRO; the plain UDP row is the one without it.
 */
import { execFileSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createPairTopology, execIn, startNodeIn, type PairTopology } from '../test/helpers/netns.js';
import { netnsUnavailableReason } from '../test/helpers/root.js';
import { BENCH_TUN, EXPERIMENTAL_PROTOCOL, PACKET_BYTES } from './native-bench-lab.js';

const BATCH_SIZES = [1, 16, 64];
const LOAD_EXTRA_SECONDS = 2; // the load outlasts the forwarder's warm-up plus window
const TUN_QUEUE_LENGTH = 10_000;
const FORWARDER_CPU = 1;
const LOAD_CPU = 0;

interface ForwarderReport {
  seconds: number;
  packets: number;
  pps: number;
  packetsPerRead: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  cpuMicrosPerPacket: number;
  forwardedTotal: number;
  shortWrites: number;
  drops: unknown;
}

interface BenchCase {
  title: string;
  forwarderMode: 'tun-to-raw' | 'udp-to-tun' | 'udp-gro-to-tun';
  loadMode: 'into-tun' | 'udp';
  loadInB: boolean;
  /** nft counter that sees the forwarded packets arrive (in B for GRE, in A after the TUN). */
  counterInB: boolean;
}

const CASES: BenchCase[] = [
  { title: 'TUN -> JS -> raw GRE', forwarderMode: 'tun-to-raw', loadMode: 'into-tun', loadInB: false, counterInB: true },
  { title: 'UDP -> JS -> TUN', forwarderMode: 'udp-to-tun', loadMode: 'udp', loadInB: true, counterInB: false },
  { title: 'UDP GRO -> JS -> TUN', forwarderMode: 'udp-gro-to-tun', loadMode: 'udp', loadInB: true, counterInB: false },
];

async function main(): Promise<void> {
  const reason = netnsUnavailableReason();
  if (reason) {
    console.error(`bench:native cannot run: ${reason}`);
    process.exitCode = 1;
    return;
  }
  const seconds = Number(process.argv[2] ?? 3);
  if (!(seconds > 0 && seconds <= 30)) throw new Error('SECONDS must be from 0 to 30');
  process.on('SIGINT', () => process.exit(130)); // runs the helper's exit hook: namespaces go

  const pair = createPairTopology();
  try {
    installCounters(pair);
    console.log(`native packet I/O benchmark: ${PACKET_BYTES}-byte packets, ${seconds} s per case, ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`);
    console.log('case                   batch        pps   pkts/read  cpu user ms  cpu sys ms  fwd cpu %  cpu us/pkt  pps/cpu-s   arrived/forwarded  load pps');
    const results: unknown[] = [];
    for (const benchCase of CASES) {
      for (const batchSize of BATCH_SIZES) {
        const result = await runCase(pair, benchCase, batchSize, seconds);
        results.push({ case: benchCase.title, batchSize, ...result });
        const { report, arrived, loadSent } = result;
        console.log(
          [
            benchCase.title.padEnd(22),
            String(batchSize).padStart(5),
            Math.round(report.pps).toLocaleString('en-US').padStart(10),
            report.packetsPerRead.toFixed(1).padStart(11),
            report.cpuUserMs.toFixed(0).padStart(12),
            report.cpuSystemMs.toFixed(0).padStart(11),
            ((100 * (report.cpuUserMs + report.cpuSystemMs)) / (report.seconds * 1000)).toFixed(0).padStart(10),
            report.cpuMicrosPerPacket.toFixed(2).padStart(11),
            Math.round(report.cpuMicrosPerPacket > 0 ? 1e6 / report.cpuMicrosPerPacket : 0).toLocaleString('en-US').padStart(10),
            `${arrived}/${report.forwardedTotal}`.padStart(19),
            Math.round(loadSent / (seconds + LOAD_EXTRA_SECONDS)).toLocaleString('en-US').padStart(9),
          ].join(' '),
        );
      }
    }
    console.log(
      'pps/cpu-s is the forwarder\'s capacity per core: its pps over its own CPU time (user+system, which includes the\n' +
        'kernel work its writes trigger inline: veth transmit and the receiving namespace\'s softirq). fwd cpu % below 100\n' +
        'with pkts/read near the batch size means the core was taken by others (load, other tenants); pkts/read well below\n' +
        'the batch size means the forwarder kept up and the load generator (one core, "load pps") set the rate.\n' +
        'Sinks: forwarded packets are counted ("arrived") and dropped at netdev ingress of B\'s veth (GRE) and of A\'s TUN\n' +
        '(inner packets), before IP input. The UDP load is sent with UDP segmentation offload (46 datagrams per send);\n' +
        'the forwarder still receives one 1400-byte datagram per slot.',
    );
    console.log(JSON.stringify({ bench: 'native', seconds, results }));
  } finally {
    pair.destroy();
  }
}

async function runCase(
  pair: PairTopology,
  benchCase: BenchCase,
  batchSize: number,
  seconds: number,
): Promise<{ report: ForwarderReport; arrived: number; loadSent: number }> {
  resetCounters(pair);
  const timeoutMs = (seconds + 30) * 1000;
  const forwarder = startNodeIn(pair.a, roleFile('native-forwarder.js'), [benchCase.forwarderMode, String(batchSize), String(seconds)], timeoutMs);
  await forwarder.ready;
  pinToCpu(forwarder.pid, FORWARDER_CPU);
  execFileSync('ip', ['-n', pair.a, 'link', 'set', 'dev', BENCH_TUN, 'txqueuelen', String(TUN_QUEUE_LENGTH)]);
  // The TUN exists only while the forwarder runs, so its sink is made for each case.
  execIn(pair.a, 'nft', ['-f', '-'], counterTable(BENCH_TUN, `ip protocol ${EXPERIMENTAL_PROTOCOL}`));
  const load = startNodeIn(
    benchCase.loadInB ? pair.b : pair.a,
    roleFile('native-load.js'),
    [benchCase.loadMode, String(seconds + LOAD_EXTRA_SECONDS)],
    timeoutMs,
  );
  pinToCpu(load.pid, LOAD_CPU);
  try {
    const report = (await forwarder.result) as ForwarderReport;
    const loadSent = ((await load.result) as { sent: number }).sent;
    const arrived = readCounter(benchCase.counterInB ? pair.b : pair.a);
    return { report, arrived, loadSent };
  } finally {
    forwarder.kill();
    load.kill();
    execIn(pair.a, 'nft', ['delete', 'table', 'netdev', 'bench']);
  }
}

// One core each, so the load generator cannot take the forwarder's core (2-core machines).
function pinToCpu(pid: number | undefined, cpu: number): void {
  if (pid === undefined || cpus().length < 2) return;
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

function roleFile(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

// Sinks count and drop the forwarded packets as early as the kernel allows (netdev ingress, before
// IP input), so the receiving stack costs little: GRE arriving in B here, and the inner packets
// coming out of the TUN in A for each case (runCase).
function installCounters(pair: PairTopology): void {
  execIn(pair.b, 'nft', ['-f', '-'], counterTable(pair.bInterface, 'ip protocol 47'));
}

function counterTable(device: string, match: string): string {
  return `table netdev bench {
  counter arrived {}
  chain ingress {
    type filter hook ingress device "${device}" priority -500;
    ${match} counter name "arrived" drop
  }
}
`;
}

function resetCounters(pair: PairTopology): void {
  execIn(pair.b, 'nft', ['reset', 'counter', 'netdev', 'bench', 'arrived']);
}

function readCounter(namespace: string): number {
  const listing = JSON.parse(execIn(namespace, 'nft', ['-j', 'list', 'counter', 'netdev', 'bench', 'arrived'])) as {
    nftables: { counter?: { packets: number } }[];
  };
  return listing.nftables.find((entry) => entry.counter !== undefined)?.counter?.packets ?? 0;
}

await main();
