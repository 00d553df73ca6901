/**
 * bench:mesh — the hub as a router, in one run:
 *  1. Throughput (iperf3, one TCP stream) from member c1 to member c2 through the hub, beside
 *     the same pair over a direct c1<->c2 link, first with every link on GRE, then with every link
 *     pinned to FOU; rounds alternate hub and direct against drift; prints each and the ratio.
 *     Members: c1 203.0.113.10 and c2 192.0.2.20, both public, hub 198.51.100.1, a router between
 *     (namespaces; needs root and iperf3, else says so and skips).
 *  2. 1,000 simulated members on one hub (no datapath, loopback): the time from
 *     `tunnel-hub peer route add` until every member has received, and acknowledged, the config
 *     that carries the new route; then the same for `peer route remove`. Target: under 2 s.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openHubState } from '../server/hub-state/hub-state.js';
import { runCliIn, serveRuntime, startCli, until, type CliProcess } from '../test/helpers/control-processes.js';
import { createNatTopology, execIn, execInAsync, spawnIn, type NatTopology } from '../test/helpers/netns.js';
import { netnsUnavailableReason } from '../test/helpers/root.js';
import { HUB_CLI, connectMembers, configWhere, prepareLoadState, startLoadHub, waitUntil, type SimulatedMember } from './simulated-members.js';

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
    await until(() => serveRuntime(hubState)?.pid === hub.child.pid, 20_000, 'hub listening');
    // c2 is the NAT box's own address: public, like c1.
    for (const [name, ns] of [['c1', topo.c1], ['c2', topo.nat]] as const) {
      const member = startCli(ns, 'client', ['join', `ws://${HUB}:8443`, '--token', (await hubCli(['invite', 'create'])).trim(), '--name', name, '--state', join(dir, name)]);
      processes.push(member);
      await until(() => /tnl-hub up/.test(member.output()), 20_000, `${name} join: ${member.output()}`);
    }
    await hubCli(['link', 'add', 'c1', 'c2']);
    const server = spawnIn(topo.nat, 'iperf3', ['-s']);
    try {
      console.log(`mesh throughput: iperf3 c1 -> c2, ${IPERF_SECONDS} s per run, ${ROUNDS} rounds alternating; Gbit/s`);
      await measure(topo, 'gre');
      await hubCli(['peer', 'pin', 'c1', '--encap', 'fou']);
      await hubCli(['peer', 'pin', 'c2', '--encap', 'fou']);
      await until(async () => {
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
    await until(async () => (await execInAsync(topo.c1, 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0, 20_000, `c1 -> ${target} on ${encap}`);
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

async function iperf(topo: NatTopology, target: string): Promise<number> {
  const result = await execInAsync(topo.c1, 'iperf3', ['-c', target, '-t', String(IPERF_SECONDS), '-J'], (IPERF_SECONDS + 20) * 1000);
  const report = JSON.parse(result.stdout) as { end?: { sum_received?: { bits_per_second: number } } };
  return (report.end?.sum_received?.bits_per_second ?? NaN) / 1e9;
}

async function routeAcks(): Promise<void> {
  const { dir, tokens } = await prepareLoadState(MEMBERS, '10.64.0.0/16');
  const hub = await startLoadHub(dir);
  let members: SimulatedMember[] = [];
  try {
    members = await connectMembers(hub.url, tokens, 100);
    const registry = (await openHubState(dir)).registry;
    console.log(`route propagation: ${MEMBERS} simulated members on one hub (no datapath, loopback), the CLI as its own process`);
    const operations: [string, string, string, boolean][] = [
      ['add', 'm0', '10.200.0.0/24', true], ['add', 'm1', '10.200.1.0/24', true], ['remove', 'm0', '10.200.0.0/24', false],
    ];
    for (const [op, owner, prefix, present] of operations) {
      const others = members.filter((m) => m.name !== owner);
      const before = new Map(others.map((m) => [m, m.configs.at(-1)?.version ?? 0]));
      const carries = (m: SimulatedMember) => (config: { version: number; tunnels: { name: string; routes?: string[] }[] }): boolean =>
        config.version > before.get(m)! && (config.tunnels.find((t) => t.name === 'tnl-hub')?.routes ?? []).includes(prefix) === present;
      const start = performance.now();
      await runCli(dir, ['peer', 'route', op, owner, prefix]);
      const committed = performance.now();
      const configs = await Promise.all(others.map((m) => configWhere(m, carries(m))));
      const lastArrival = Math.max(...others.map((m, i) => m.arrivals[m.configs.indexOf(configs[i]!)]!));
      await waitUntil(async () => {
        for (const [i, m] of others.entries()) {
          const link = await registry.links.hubLinkOf(m.name);
          if (((await registry.specs.versions(m.name, link.id))?.peer.acked ?? 0) < configs[i]!.version) return undefined;
        }
        return true;
      }, 60_000, 'every ack recorded');
      const recorded = performance.now();
      console.log(`  peer route ${op} ${owner} ${prefix}: CLI ${Math.round(committed - start)} ms; every other member (${others.length}) had the new routes and acked ${Math.round(lastArrival - start)} ms after the command started (${Math.round(lastArrival - committed)} ms after it committed); every ack recorded in the registry at ${Math.round(recorded - start)} ms — target under 2000 ms: ${lastArrival - start < 2000 ? 'met' : 'NOT met'}`);
    }
    await registry.close();
  } finally {
    for (const member of members) member.ws.terminate();
    await hub.close();
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

await throughput();
await routeAcks();
