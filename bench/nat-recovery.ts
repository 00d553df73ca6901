/**
 * bench:nat — the authenticated UDP binding through a NAT. Builds hub ── wan ── c1
 * (public) and nat ── c2 (masquerade, GRE and IPIP dropped) in namespaces, runs the datapath
 * engine in hub (a FOU tunnel with auth role 'hub' toward c2, a GRE tunnel toward c1), c2 (FOU,
 * role 'member') and c1 (GRE), then:
 *  - re-maps c2's NAT mapping 10 times (masquerade port range switched + conntrack flushed) while
 *    c2 pings the hub's inner address every 20 ms; the recovery gap of a re-mapping is the longest
 *    time between two ping replies. Prints each, the median and the max (target < 1000 ms).
 *  - TCP throughput (iperf3, 5 s) through FOU across the NAT (c2 → hub) and through GRE on the
 *    public path (c1 → hub), in the same run.
 * Needs root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, release } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createNatTopology, execIn, execInAsync, type NatTopology } from '../test/helpers/netns.js';
import { netnsUnavailableReason } from '../test/helpers/root.js';
import { median } from './median.js';

const REMAPS = Number(process.env.REMAPS ?? 10);
const IPERF_SECONDS = Number(process.env.IPERF_SECONDS ?? 5);
// A fixed key for the benchmark only; the control plane hands out a fresh one per session.
const KEY_HEX = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';
const BINDING_ID = 0x2c2;
const RANGES = ['20000-29999', '30000-39999'] as const;
const HUB_FOU = '10.79.0.1';
const C2_FOU = '10.79.0.2';
const HUB_GRE = '10.79.0.5';
const C1_GRE = '10.79.0.6';

interface Engine {
  child: ChildProcess;
  events: { reason: string; port: number }[];
  ready: Promise<void>;
}

function startEngine(namespace: string, specs: unknown[]): Engine {
  const role = fileURLToPath(new URL('nat-recovery-engine.js', import.meta.url));
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, role, JSON.stringify(specs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: Engine['events'] = [];
  const ready = new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`engine in ${namespace} exited with ${String(code)}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') resolve();
      else if (line.startsWith('{')) events.push(JSON.parse(line) as Engine['events'][number]);
    });
  });
  ready.catch(() => undefined);
  return { child, events, ready };
}

function setMasquerade(topo: NatTopology, range: string): void {
  const out = ['oifname', `${topo.prefix}nato`];
  execIn(topo.nat, 'nft', ['flush', 'chain', 'ip', 'nat', 'post']);
  execIn(topo.nat, 'nft', ['add', 'rule', 'ip', 'nat', 'post', ...out, 'meta', 'l4proto', 'udp', 'masquerade', 'to', `:${range}`]);
  execIn(topo.nat, 'nft', ['add', 'rule', 'ip', 'nat', 'post', ...out, 'masquerade']);
}

function longestReplyGapMs(pingOutput: string): number {
  const times = [...pingOutput.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return times.length < 2 ? Number.POSITIVE_INFINITY : gap;
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function iperfGbps(topo: NatTopology, serverNs: string, clientNs: string, serverAddress: string): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-B', serverAddress], { stdio: 'ignore' });
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      const result = await execInAsync(clientNs, 'iperf3', ['-c', serverAddress, '-t', String(IPERF_SECONDS), '-J'], (IPERF_SECONDS + 30) * 1000);
      if (result.code === 0) {
        const report = JSON.parse(result.stdout) as { end: { sum_received: { bits_per_second: number } } };
        return report.end.sum_received.bits_per_second / 1e9;
      }
      await new Promise((r) => setTimeout(r, 100)); // the server is not listening yet
    }
    throw new Error(`iperf3 to ${serverAddress} never connected (${topo.prefix})`);
  } finally {
    server.kill();
  }
}

async function main(): Promise<void> {
  const reason = netnsUnavailableReason();
  if (reason) {
    console.error(`bench:nat cannot run: ${reason}`);
    process.exitCode = 1;
    return;
  }
  process.on('SIGINT', () => process.exit(130)); // runs the helper's exit hook: namespaces go
  const topo = createNatTopology();
  const engines: Engine[] = [];
  try {
    let range = 0;
    setMasquerade(topo, RANGES[range]!);
    const auth = (role: 'hub' | 'member') => ({ bindingId: BINDING_ID, key: KEY_HEX, role });
    const hub = startEngine(topo.hub, [
      { name: 'bn-c2', encap: 'fou', local: topo.addresses.hub, address: `${HUB_FOU}/30`, peerAddress: C2_FOU, auth: auth('hub') },
      { name: 'bn-c1', encap: 'gre', local: topo.addresses.hub, remote: topo.addresses.c1, address: `${HUB_GRE}/30`, peerAddress: C1_GRE },
    ]);
    engines.push(hub);
    await hub.ready;
    const c2 = startEngine(topo.c2, [
      { name: 'bn-hub', encap: 'fou', local: topo.addresses.c2, remote: topo.addresses.hub, address: `${C2_FOU}/30`, peerAddress: HUB_FOU, auth: auth('member') },
    ]);
    const c1 = startEngine(topo.c1, [
      { name: 'bn-hub', encap: 'gre', local: topo.addresses.c1, remote: topo.addresses.hub, address: `${C1_GRE}/30`, peerAddress: HUB_GRE },
    ]);
    engines.push(c2, c1);
    await Promise.all([c2.ready, c1.ready]);
    await waitUntil(() => hub.events.some((e) => e.reason === 'bound'), 10_000, 'the hub to bind c2');
    console.log(`bench:nat — ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`);

    const gaps: number[] = [];
    for (let i = 0; i < REMAPS; i++) {
      const movesBefore = hub.events.filter((e) => e.reason === 'moved').length;
      const ping = execInAsync(topo.c2, 'ping', ['-D', '-i', '0.02', '-W', '1', '-w', '3', HUB_FOU], 30_000);
      await new Promise((r) => setTimeout(r, 800));
      range = 1 - range;
      setMasquerade(topo, RANGES[range]!);
      execIn(topo.nat, 'conntrack', ['-F']);
      const gap = longestReplyGapMs((await ping).stdout);
      const moved = hub.events.filter((e) => e.reason === 'moved');
      if (moved.length !== movesBefore + 1) throw new Error(`re-mapping ${i + 1}: expected one 'moved' binding event, saw ${moved.length - movesBefore}`);
      gaps.push(gap);
      console.log(`re-mapping ${String(i + 1).padStart(2)}: gap ${gap.toFixed(0).padStart(5)} ms, NAT port now ${moved[moved.length - 1]!.port}`);
    }
    const middle = median(gaps);
    const max = Math.max(...gaps);
    console.log(`recovery gap over ${REMAPS} re-mappings: median ${middle.toFixed(0)} ms, max ${max.toFixed(0)} ms (target < 1000 ms)`);

    const fou = await iperfGbps(topo, topo.hub, topo.c2, HUB_FOU);
    const gre = await iperfGbps(topo, topo.hub, topo.c1, HUB_GRE);
    console.log(`TCP throughput, ${IPERF_SECONDS} s each: FOU through the NAT ${fou.toFixed(2)} Gbit/s, GRE on the public path ${gre.toFixed(2)} Gbit/s (FOU/GRE ${(fou / gre).toFixed(2)})`);
    console.log(JSON.stringify({ bench: 'nat', remaps: REMAPS, gapsMs: gaps.map(Math.round), medianMs: Math.round(middle), maxMs: Math.round(max), fouGbps: fou, greGbps: gre }));
  } finally {
    for (const engine of engines) engine.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    topo.destroy();
  }
}

await main();
