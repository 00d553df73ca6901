/**
 * bench:mesh — the hub as a router, in one run:
 *  1. Throughput (iperf3, one TCP stream) from member c1 to member c2 through the hub, beside
 *     the same pair over a direct c1<->c2 link, first with every link on GRE, then with every link
 *     pinned to FOU; rounds alternate hub and direct against drift; prints each and the ratio.
 *     Members: c1 203.0.113.10 and c2 192.0.2.20, both public, hub 198.51.100.1, a router between
 *     (namespaces; needs root and iperf3, else says so and skips).
 *  2. Shortcuts, on the same topology with a hub of its own (`--shortcuts auto`, default threshold):
 *     c1 -> c2 through the hub (c1's shortcuts off), over a hand-made direct link (`link add`), and
 *     over the shortcut the hub makes once c1 may have one; the time from the transfer's start
 *     until both members applied the shortcut's routes (`firstPacketToUpMs`, from the processes'
 *     logs, split into made / verified / routed), and the hub's CPU during that transfer before and
 *     after the switch. Goals: the shortcut at 0.9 of the direct link or better, the switch within 3 s.
 *  3. BENCH_MEMBERS (1,000) simulated members, each from an address of its own, on one hub in a
 *     namespace of its own (bench/member-swarm.ts) with its real datapath (a GRE tunnel each), then
 *     in the same run with `--datapath none` (BENCH_DATAPATH=engine or none runs one row): the
 *     time from `tunnel-hub peer route add` until every other member has received the config that
 *     carries the new route, and until the registry recorded every ack; then the same for
 *     `peer route remove`. Target: under 2 s.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliIn, serveRuntime, startCli, type CliProcess } from '../test/helpers/control-processes.js';
import { waitUntil } from '../test/helpers/wait-until.js';
import { createNatTopology, execIn, execInAsync, spawnIn, type NatTopology } from '../test/helpers/netns.js';
import { netnsUnavailableReason } from '../test/helpers/root.js';
import { benchDatapaths } from './bench-datapaths.js';
import { namespacesUnavailableReason } from './bench-namespaces.js';
import type { BenchDatapath } from './hub-process.js';
import { createMemberSwarm, type MemberSwarm } from './member-swarm.js';
import { HUB_CLI } from './simulated-members.js';

const IPERF_SECONDS = Number(process.env.IPERF_SECONDS ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const HUB = '198.51.100.1';
/** c2's addresses: on its hub link (reached through the hub) and on the c1<->c2 link (direct). */
const C2_VIA_HUB = '10.1.12.6';
const C2_DIRECT = '10.1.12.10';

/** A hub and members c1 (203.0.113.10) and c2 (the NAT box's own address, 192.0.2.20: public, like c1), joined. */
interface Mesh {
  topo: NatTopology;
  hub: CliProcess;
  members: { c1: CliProcess; c2: CliProcess };
  hubCli(args: string[]): Promise<string>;
  /** Stops every process, removes the namespaces and the state. */
  close(): Promise<void>;
}

/** Starts a mesh whose hub serves with `serveArgs`; pool 10.1.12.0/24 (c1 .2, c2 .6 on their hub links). */
async function startMesh(label: string, serveArgs: string[]): Promise<Mesh> {
  const topo = createNatTopology();
  const dir = mkdtempSync(join(tmpdir(), `bench-${label}-`));
  const hubState = join(dir, 'hub');
  const processes: CliProcess[] = [];
  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  const close = async (): Promise<void> => {
    for (const child of processes.reverse()) await child.stop();
    topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    const hub = startCli(topo.hub, 'server', ['--state', hubState, 'serve', '--listen', HUB, ...serveArgs]);
    processes.push(hub);
    await waitUntil(() => serveRuntime(hubState)?.pid === hub.child.pid, 20_000, 'hub listening');
    const members: CliProcess[] = [];
    for (const [name, ns] of [['c1', topo.c1], ['c2', topo.nat]] as const) {
      const member = startCli(ns, 'client', ['join', `ws://${HUB}:8443`, '--token', (await hubCli(['invite', 'create'])).trim(), '--name', name, '--state', join(dir, name)]);
      processes.push(member);
      members.push(member);
      await waitUntil(() => /tnl-hub up/.test(member.output()), 20_000, `${name} join: ${member.output()}`);
    }
    return { topo, hub, members: { c1: members[0]!, c2: members[1]! }, hubCli, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function throughput(): Promise<void> {
  const reason = netnsUnavailableReason() ?? (await commandMissing('iperf3'));
  if (reason) {
    console.log(`mesh throughput: SKIPPED (${reason})`);
    return;
  }
  const { topo, hubCli, close } = await startMesh('mesh', ['--path-keepalive', '1']);
  try {
    await hubCli(['link', 'add', 'c1', 'c2']);
    const server = spawnIn(topo.nat, 'iperf3', ['-s']);
    try {
      console.log(`mesh throughput: iperf3 c1 -> c2, ${IPERF_SECONDS} s per run, ${ROUNDS} rounds alternating; Gbit/s`);
      await measure(topo, 'gre');
      await hubCli(['peer', 'pin', 'c1', '--encap', 'fou']);
      await hubCli(['peer', 'pin', 'c2', '--encap', 'fou']);
      await waitUntil(async () => {
        const status = JSON.parse(await hubCli(['status', '--json'])) as { peers: { encap: string }[]; links: { encap: string }[] };
        return status.peers.every((p) => p.encap === 'fou') && status.links.every((l) => l.encap === 'fou');
      }, 20_000, 'every link on fou');
      await measure(topo, 'fou');
    } finally {
      server.kill('SIGKILL');
    }
  } finally {
    await close();
  }
}

async function measure(topo: NatTopology, encap: string): Promise<void> {
  for (const target of [C2_VIA_HUB, C2_DIRECT]) {
    await waitUntil(async () => (await execInAsync(topo.c1, 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0, 20_000, `c1 -> ${target} on ${encap}`);
  }
  const viaHub: number[] = [];
  const direct: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    viaHub.push(await iperf(topo, C2_VIA_HUB));
    direct.push(await iperf(topo, C2_DIRECT));
  }
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const route = execIn(topo.c1, 'ip', ['route', 'get', C2_VIA_HUB]).trim().split('\n')[0];
  console.log(`  ${encap}: through the hub ${viaHub.map((v) => v.toFixed(2)).join(' / ')}, direct ${direct.map((v) => v.toFixed(2)).join(' / ')}; ratio hub/direct ${(mean(viaHub) / mean(direct)).toFixed(2)} (c1: ${route})`);
}

async function iperf(topo: NatTopology, target: string, seconds = IPERF_SECONDS): Promise<number> {
  const result = await execInAsync(topo.c1, 'iperf3', ['-c', target, '-t', String(seconds), '-J'], (seconds + 20) * 1000);
  const report = JSON.parse(result.stdout) as { end?: { sum_received?: { bits_per_second: number } } };
  return (report.end?.sum_received?.bits_per_second ?? NaN) / 1e9;
}

/** Seconds of CPU (user + system) process `pid` used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The hub's CPU share (1.0 = one core) while `run` goes on. */
async function hubCpuDuring<T>(pid: number, run: () => Promise<T>): Promise<{ value: T; cpu: number }> {
  const [cpu0, t0] = [cpuSeconds(pid), performance.now()];
  const value = await run();
  return { value, cpu: (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000) };
}

/** The times (ms since the epoch) of a process's log lines whose message starts with `message`. */
function logTimes(output: string, message: string): number[] {
  const times: number[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes(message)) continue;
    try {
      const entry = JSON.parse(line) as { time?: number; msg?: string };
      if (typeof entry.time === 'number' && entry.msg?.startsWith(message) === true) times.push(entry.time);
    } catch {
      // Not a log line.
    }
  }
  return times;
}

/**
 * When a shortcut made after `start` (ms since the epoch) came up, from the processes' logs: the hub
 * made it (`made`), both ends reported it up (`verified`), and both members applied the config
 * with its routes (`routed`, the switch); null for a step not reached.
 */
function switchTimes(mesh: Mesh, start: number): { made: number | null; verified: number | null; routed: number | null } {
  const after = (times: number[], from: number | null): number | null => (from === null ? null : times.find((t) => t >= from) ?? null);
  const made = after(logTimes(mesh.hub.output(), 'shortcut made'), start);
  const verified = after(logTimes(mesh.hub.output(), 'shortcut verified both ways'), made);
  const applied = [mesh.members.c1, mesh.members.c2].map((member) => after(logTimes(member.output(), 'config applied'), verified));
  const routed = applied.some((t) => t === null) ? null : Math.max(...(applied as number[]));
  return { made, verified, routed };
}

async function shortcutThroughput(): Promise<void> {
  const reason = netnsUnavailableReason() ?? (await commandMissing('iperf3'));
  if (reason) {
    console.log(`shortcut throughput: SKIPPED (${reason})`);
    return;
  }
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const cpuText = (values: number[]): string => values.map((v) => `${Math.round(v * 100)}%`).join(' / ');
  // Every shortcut setting at its default: threshold 1 Mbit/s for 2 s, keepalives every 10 s.
  const mesh = await startMesh('shortcut', ['--shortcuts', 'auto']);
  const { topo, hubCli } = mesh;
  try {
    const hubPid = mesh.hub.child.pid!;
    await hubCli(['peer', 'set', 'c1', '--shortcuts', 'off']);
    const server = spawnIn(topo.nat, 'iperf3', ['-s']);
    try {
      console.log(`shortcut throughput: iperf3 c1 -> c2 (both public, GRE), ${IPERF_SECONDS} s per run, ${ROUNDS} rounds; Gbit/s; hub CPU (1 core = 100%)`);
      await waitUntil(async () => (await execInAsync(topo.c1, 'ping', ['-c', '1', '-W', '1', C2_VIA_HUB], 5_000)).code === 0, 20_000, 'c1 -> c2 through the hub');
      const viaHub: number[] = [];
      const viaHubCpu: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const { value, cpu } = await hubCpuDuring(hubPid, () => iperf(topo, C2_VIA_HUB));
        viaHub.push(value);
        viaHubCpu.push(cpu);
      }
      await hubCli(['link', 'add', 'c1', 'c2']);
      await waitUntil(async () => (await execInAsync(topo.c1, 'ping', ['-c', '1', '-W', '1', C2_DIRECT], 5_000)).code === 0, 20_000, 'c1 -> c2 over the direct link');
      const direct: number[] = [];
      for (let round = 0; round < ROUNDS; round++) direct.push(await iperf(topo, C2_DIRECT));
      await hubCli(['link', 'remove', 'c1', 'c2']);
      await waitUntil(() => /dev tnl-hub/.test(execIn(topo.c1, 'ip', ['route', 'get', C2_VIA_HUB])), 20_000, 'c1 routing c2 through the hub again');

      // The switch: one long transfer through the hub; the hub's CPU sampled twice a second. The
      // transfer's first packet leaves after `start` (iperf3 starts first), so the times are upper bounds.
      await hubCli(['peer', 'set', 'c1', '--shortcuts', 'on']);
      const switchSeconds = IPERF_SECONDS + 10;
      const samples: { at: number; cpu: number }[] = [];
      const start = Date.now();
      const transfer = iperf(topo, C2_VIA_HUB, switchSeconds);
      const sampler = setInterval(() => samples.push({ at: Date.now() - start, cpu: cpuSeconds(hubPid) }), 500);
      try {
        await waitUntil(() => /dev tnl-c2/.test(execIn(topo.c1, 'ip', ['route', 'get', C2_VIA_HUB])), switchSeconds * 1000, 'c1 routing c2 over the shortcut');
      } finally {
        await transfer;
        clearInterval(sampler);
      }
      const times = switchTimes(mesh, start);
      const since = (t: number | null, from: number | null): number | null => (t === null || from === null ? null : t - from);
      const firstPacketToUpMs = since(times.routed, start);
      const cpuBetween = (from: number, to: number): number => {
        const inside = samples.filter((s) => s.at >= from && s.at <= to);
        if (inside.length < 2) return NaN;
        return (inside.at(-1)!.cpu - inside[0]!.cpu) / ((inside.at(-1)!.at - inside[0]!.at) / 1000);
      };
      const shortcut: number[] = [];
      for (let round = 0; round < ROUNDS; round++) shortcut.push(await iperf(topo, C2_VIA_HUB));
      const route = execIn(topo.c1, 'ip', ['route', 'get', C2_VIA_HUB]).trim().split('\n')[0];
      const ratio = mean(shortcut) / mean(direct);
      console.log(`  through the hub ${viaHub.map((v) => v.toFixed(2)).join(' / ')} (hub CPU ${cpuText(viaHubCpu)}); direct link ${direct.map((v) => v.toFixed(2)).join(' / ')}; shortcut ${shortcut.map((v) => v.toFixed(2)).join(' / ')} (c1: ${route})`);
      console.log(`  ratio shortcut/direct ${ratio.toFixed(2)} (goal 0.9), hub/direct ${(mean(viaHub) / mean(direct)).toFixed(2)}`);
      const ms = (value: number | null): string => (value === null ? 'never' : `${value} ms`);
      console.log(`  switch: first packet -> shortcut routed at both ends ${ms(firstPacketToUpMs)} (goal 3000 ms): made ${ms(since(times.made, start))}, verified both ways ${ms(since(times.verified, times.made))} later, routes applied at both ends ${ms(since(times.routed, times.verified))} later`);
      console.log(`  hub CPU during the transfer before the switch ${cpuText([cpuBetween(0, firstPacketToUpMs ?? Infinity)])}, after it ${cpuText([cpuBetween((firstPacketToUpMs ?? Infinity) + 1000, switchSeconds * 1000)])}`);
      console.log(`  figures ${JSON.stringify({ shortcutGbps: mean(shortcut), directGbps: mean(direct), viaHubGbps: mean(viaHub), ratio, firstPacketToUpMs })}`);
    } finally {
      server.kill('SIGKILL');
    }
  } finally {
    await mesh.close();
  }
}

async function routeAcks(): Promise<void> {
  const reason = namespacesUnavailableReason();
  if (reason) {
    console.log(`route propagation: SKIPPED (${reason})`);
    return;
  }
  const datapaths = benchDatapaths();
  const swarm = await createMemberSwarm({ members: MEMBERS });
  try {
    await swarm.startReflector();
    for (const datapath of datapaths) await routeRow(swarm, datapath);
  } finally {
    await swarm.destroy();
  }
}

/** One row of route propagation: a hub with `datapath` on a copy of the swarm's state, every member joined. */
async function routeRow(swarm: MemberSwarm, datapath: BenchDatapath): Promise<void> {
  const dir = swarm.copyState(`mesh-${datapath}`);
  const hub = await swarm.startHub({ datapath, stateDir: dir });
  const members = await swarm.startMembers(hub);
  try {
    await members.join();
    await swarm.awaitRegistryAcks(hub, members.generation);
    console.log(`route propagation: ${MEMBERS} simulated members, each from an address of its own, on one hub in a namespace of its own (${datapath === 'engine' ? `real datapath, ${swarm.devices().tun} TUN devices` : 'no datapath'}), the CLI as its own process`);
    const operations: [string, string, string, boolean][] = [
      ['add', 'm0', '10.200.0.0/24', true], ['add', 'm1', '10.200.1.0/24', true], ['remove', 'm0', '10.200.0.0/24', false],
    ];
    for (const [op, owner, prefix, present] of operations) {
      await members.watchRoute(prefix, present, owner);
      const start = Date.now();
      await runCli(dir, ['peer', 'route', op, owner, prefix]);
      const committed = Date.now();
      const lastArrival = await members.awaitRoute(60_000);
      await swarm.awaitRegistryAcks(hub, members.generation, 60_000);
      const recorded = Date.now();
      console.log(`  peer route ${op} ${owner} ${prefix}: CLI ${committed - start} ms; every other member (${MEMBERS - 1}) had the new routes ${Math.round(lastArrival - start)} ms after the command started (${Math.round(lastArrival - committed)} ms after it committed); every ack recorded in the registry at ${recorded - start} ms — target under 2000 ms: ${lastArrival - start < 2000 ? 'met' : 'NOT met'}`);
    }
  } catch (err) {
    console.error(`route propagation (${datapath}): ${hub.errors()}`);
    throw err;
  } finally {
    await members.stop();
    await hub.stop();
    await swarm.awaitNoDevices();
  }
}

function runCli(dir: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [HUB_CLI, '--state', dir, ...args], (err, _stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve()));
  });
}

async function commandMissing(command: string): Promise<string | null> {
  return new Promise((resolve) => execFile(command, ['--version'], (err) => resolve(err ? `${command} is not installed` : null)));
}

const only = process.env.BENCH_ONLY;
if (only === undefined || only === 'throughput') await throughput();
if (only === undefined || only === 'shortcut') await shortcutThroughput();
if (only === undefined || only === 'routes') await routeAcks();
