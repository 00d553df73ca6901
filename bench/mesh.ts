/**
 * bench:mesh — the hub as a router, in one run:
 *  1. Throughput (iperf3, one TCP stream) from member c1 to member c2 through the hub, beside
 *     the same pair over a direct c1<->c2 link, first with every link on GRE, then with every link
 *     pinned to FOU; rounds alternate hub and direct against drift; prints each and the ratio.
 *     Members: c1 203.0.113.10 and c2 192.0.2.20, both public, hub 198.51.100.1, a router between
 *     (namespaces; needs root and iperf3, else says so and skips).
 *  2. Shortcuts, on the same topology with a hub of its own (`--shortcuts auto`, default threshold):
 *     c1 -> c2 through the hub (c1's shortcuts off), over a hand-made direct link (`link add`), and
 *     over the shortcut the hub makes once c1 may have one; the time from the transfer's first
 *     packet until the hub says the shortcut is up, and the hub's CPU during that transfer before
 *     and after the switch. Goal: the shortcut at 0.9 of the direct link or better.
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

async function throughput(): Promise<void> {
  const reason = netnsUnavailableReason() ?? (await commandMissing('iperf3'));
  if (reason) {
    console.log(`mesh throughput: SKIPPED (${reason})`);
    return;
  }
  const topo = createNatTopology();
  const dir = mkdtempSync(join(tmpdir(), 'bench-mesh-'));
  const hubState = join(dir, 'hub');
  const processes: CliProcess[] = [];
  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  try {
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    const hub = startCli(topo.hub, 'server', ['--state', hubState, 'serve', '--listen', HUB, '--path-keepalive', '1']);
    processes.push(hub);
    await waitUntil(() => serveRuntime(hubState)?.pid === hub.child.pid, 20_000, 'hub listening');
    // c2 is the NAT box's own address: public, like c1.
    for (const [name, ns] of [['c1', topo.c1], ['c2', topo.nat]] as const) {
      const member = startCli(ns, 'client', ['join', `ws://${HUB}:8443`, '--token', (await hubCli(['invite', 'create'])).trim(), '--name', name, '--state', join(dir, name)]);
      processes.push(member);
      await waitUntil(() => /tnl-hub up/.test(member.output()), 20_000, `${name} join: ${member.output()}`);
    }
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
    for (const child of processes.reverse()) await child.stop();
    topo.destroy();
    rmSync(dir, { recursive: true, force: true });
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

async function shortcutThroughput(): Promise<void> {
  const reason = netnsUnavailableReason() ?? (await commandMissing('iperf3'));
  if (reason) {
    console.log(`shortcut throughput: SKIPPED (${reason})`);
    return;
  }
  const topo = createNatTopology();
  const dir = mkdtempSync(join(tmpdir(), 'bench-shortcut-'));
  const hubState = join(dir, 'hub');
  const processes: CliProcess[] = [];
  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  const shortcutUp = async (): Promise<boolean> => (JSON.parse(await hubCli(['status', '--json'])) as { links: { kind: string; shortcut: { state: string } | null }[] })
    .links.some((l) => l.kind === 'shortcut' && l.shortcut?.state === 'up');
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const cpuText = (values: number[]): string => values.map((v) => `${Math.round(v * 100)}%`).join(' / ');
  try {
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    const hub = startCli(topo.hub, 'server', ['--state', hubState, 'serve', '--listen', HUB, '--path-keepalive', '1', '--shortcuts', 'auto']);
    processes.push(hub);
    await waitUntil(() => serveRuntime(hubState)?.pid === hub.child.pid, 20_000, 'hub listening');
    const hubPid = hub.child.pid!;
    for (const [name, ns] of [['c1', topo.c1], ['c2', topo.nat]] as const) {
      const member = startCli(ns, 'client', ['join', `ws://${HUB}:8443`, '--token', (await hubCli(['invite', 'create'])).trim(), '--name', name, '--state', join(dir, name)]);
      processes.push(member);
      await waitUntil(() => /tnl-hub up/.test(member.output()), 20_000, `${name} join: ${member.output()}`);
    }
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

      // The switch: one long transfer through the hub; the hub's CPU sampled twice a second.
      await hubCli(['peer', 'set', 'c1', '--shortcuts', 'on']);
      const switchSeconds = IPERF_SECONDS + 10;
      const samples: { at: number; cpu: number }[] = [];
      const start = performance.now();
      const transfer = iperf(topo, C2_VIA_HUB, switchSeconds);
      const sampler = setInterval(() => samples.push({ at: performance.now() - start, cpu: cpuSeconds(hubPid) }), 500);
      let switchedMs: number | null = null;
      try {
        await waitUntil(shortcutUp, switchSeconds * 1000, 'the shortcut up');
        switchedMs = performance.now() - start;
      } finally {
        await transfer;
        clearInterval(sampler);
      }
      const cpuBetween = (from: number, to: number): number => {
        const inside = samples.filter((s) => s.at >= from && s.at <= to);
        if (inside.length < 2) return NaN;
        return (inside.at(-1)!.cpu - inside[0]!.cpu) / ((inside.at(-1)!.at - inside[0]!.at) / 1000);
      };
      const shortcut: number[] = [];
      for (let round = 0; round < ROUNDS; round++) shortcut.push(await iperf(topo, C2_VIA_HUB));
      const route = execIn(topo.c1, 'ip', ['route', 'get', C2_VIA_HUB]).trim().split('\n')[0];
      console.log(`  through the hub ${viaHub.map((v) => v.toFixed(2)).join(' / ')} (hub CPU ${cpuText(viaHubCpu)}); direct link ${direct.map((v) => v.toFixed(2)).join(' / ')}; shortcut ${shortcut.map((v) => v.toFixed(2)).join(' / ')} (c1: ${route})`);
      console.log(`  ratio shortcut/direct ${(mean(shortcut) / mean(direct)).toFixed(2)} (goal 0.9), hub/direct ${(mean(viaHub) / mean(direct)).toFixed(2)}`);
      console.log(`  switch: first packet -> shortcut up on the hub ${switchedMs === null ? 'never' : `${(switchedMs / 1000).toFixed(1)} s`}; hub CPU during the transfer before the switch ${cpuText([cpuBetween(0, switchedMs ?? Infinity)])}, after it ${cpuText([cpuBetween((switchedMs ?? Infinity) + 1000, switchSeconds * 1000)])}`);
    } finally {
      server.kill('SIGKILL');
    }
  } finally {
    for (const child of processes.reverse()) await child.stop();
    topo.destroy();
    rmSync(dir, { recursive: true, force: true });
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
