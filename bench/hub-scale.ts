/**
 * bench:hub-scale — one hub and N members that carry packets (bench/member-swarm.ts): the hub with
 * its real datapath in a namespace of its own, every member connecting from an address of its own
 * so it gets a GRE tunnel on the hub, every tunnel's keepalives answered; beside it, in the same
 * run, the same state folder under `serve --datapath none`. Two real tunnel-client members on
 * hosts of their own measure forwarding through the hub (iperf3) with 2 tunnels and with N + 2:
 * R runs each, and the median of each is its figure. Their shortcuts are off (else the hub would
 * soon make one and their traffic would go past it), and a series with a shortcut fails.
 *   npm run bench:hub-scale -- --members N [--json] [--idle-seconds S] [--iperf-seconds S] [--iperf-rounds R] [--concurrency C] [--phase-timeout S] [--profile DIR] [--no-restart]
 *     [--member-devices own|shared] [--serve-flags "FLAGS"] [--member-keepalives]
 * With `--member-devices shared` the real hub runs `serve --member-devices shared`: its member
 * tunnels share one device, and a tunnel counts as back once its inner address is on that device.
 * The members answer the hub's keepalives as a kernel GRE peer does; with `--member-keepalives`
 * they also send their own every 10 s, as tunnel-client does, which the hub answers.
 * Timed phases (each until the registry has recorded every member's ack, not only the members'
 * view): join, move (every member reconnects from a new address at once, at most C connecting at
 * a time; then once more on the same hub), restart (SIGTERM, until every tunnel is back and every
 * config acked), teardown (SIGTERM until the hub exited and none of its devices is left). Probes from outside: RSS, descriptors,
 * threads, CPU (/proc), TUN devices, the admin listener's answer time. `--profile DIR` runs every
 * hub under `node --cpu-prof` into DIR and writes each timed phase's window there (phases.json), for
 * bench/swarm-cpu-profile.ts to summarise.
 */
import { Command, Option } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { cpus, loadavg, release } from 'node:os';
import { awaitReachable, iperfThroughHub, startClientIn, type ClientProcess } from './client-process.js';
import type { HubProcess } from './hub-process.js';
import type { AnswerTimes } from './admin-listener-probe.js';
import { createMemberSwarm, HUB_SHARED_DEVICE, type MemberSwarm, type SwarmMembers } from './member-swarm.js';
import { ipIn, namespacesUnavailableReason } from './bench-namespaces.js';
import { median } from './median.js';
import { cpuPercent, ProcessSampler, sampleProcess, taskCpuMs, threadCpuMs, threadCpuPercent } from './process-probes.js';
import { monotonicMicros, type ProfiledPhase } from './swarm-cpu-profile.js';

interface Settings {
  members: number;
  json: boolean;
  idleSeconds: number;
  iperfSeconds: number;
  /** iperf3 runs per forwarding figure; the figure is their median. */
  iperfRounds: number;
  concurrency: number;
  /** Seconds each phase may take before the run stops and says where. */
  phaseTimeout: number;
  /** Where the hubs' CPU profiles and phases.json go; unset: no profile. */
  profile?: string;
  /** False: the run ends after the move (no restart, no teardown timed). */
  restart: boolean;
  /** The real hub's `serve --member-devices`. */
  memberDevices: 'own' | 'shared';
  /** More flags for the real hub's `serve`, space-separated. */
  serveFlags: string;
  /** The members also send path keepalives of their own every 10 s, as tunnel-client does (the hub answers each). */
  memberKeepalives: boolean;
}

/** The JSON object of `--json` (the contract's fields first; null where a phase did not run). */
interface HubScaleResult {
  members: number;
  /** The real hub's `serve --member-devices`. */
  memberDevices: 'own' | 'shared';
  tunnels: number | null;
  joinMs: number | null;
  joinMsNone: number | null;
  moveAckMs: number | null;
  moveAckMsNone: number | null;
  /** A second storm on the same hub, MOVE_AGAIN_AFTER_MS after the first: the first also pays for V8 compiling the move's code. */
  moveAgainAckMs: number | null;
  moveAgainAckMsNone: number | null;
  restartMs: number | null;
  peakRssKiB: number | null;
  perMemberKiB: number | null;
  fds: number | null;
  threads: number | null;
  idleCpuPercent: number | null;
  /** The idle CPU by thread name (percent of one core), busiest first. */
  idleCpuByThread: Record<string, number> | null;
  /** With `--member-keepalives`: the members' own keepalives sent over the whole run, and the hub's answers. */
  memberKeepalives: { originated: number; answered: number } | null;
  teardownMs: number | null;
  tunnelsUp: number | null;
  emptyRssKiB: number | null;
  idleRssKiB: number | null;
  noneRssKiB: number | null;
  /** Median Gbit/s of the rounds with 2 tunnels and with N + 2; the ratio is of the two medians. */
  forwardGbps2: number | null;
  forwardGbpsN: number | null;
  forwardRatio: number | null;
  /** Every round's Gbit/s (null: the run failed; the output says why), in the order run. */
  forwardRuns2: (number | null)[] | null;
  forwardRunsN: (number | null)[] | null;
  answerMs: Record<string, AnswerTimes>;
  phasesMs: Record<string, number>;
  /** The hub's CPU time (user + system) over each timed phase: steadier than wall time on a busy machine. */
  hubCpuMs: Record<string, number>;
  /** The same for the hub's main thread alone (its event loop, where a storm queues): V8's compiler and GC threads left out. */
  hubMainThreadCpuMs: Record<string, number>;
  failed: string | null;
  conditions: { date: string; loadAverage: number[]; cpus: string; kernel: string; node: string };
}

const SETTLE_MS = 5_000;
/** How long after the first storm the second starts. */
const MOVE_AGAIN_AFTER_MS = 3_000;
/** tunnel-client's path keepalive interval on its hub tunnel (the hub's default `--path-keepalive`). */
const MEMBER_KEEPALIVE_SECONDS = 10;

function parseSettings(argv: string[]): Settings {
  const positive = (name: string, max: number) => (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${name} must be an integer from 1 to ${max}, got ${text}`);
    return value;
  };
  const options = new Command('bench:hub-scale')
    .option('--members <n>', 'simulated members', positive('--members', 16_000), 1000)
    .option('--json', 'print one JSON object on the last line', false)
    .option('--idle-seconds <s>', 'how long the idle CPU is measured', positive('--idle-seconds', 3600), 60)
    .option('--iperf-seconds <s>', 'seconds per iperf3 run', positive('--iperf-seconds', 600), 5)
    .option('--iperf-rounds <n>', 'iperf3 runs per forwarding figure (their median)', positive('--iperf-rounds', 21), 5)
    .option('--concurrency <n>', 'members connecting at once', positive('--concurrency', 500), 100)
    .option('--phase-timeout <s>', 'seconds each phase may take', positive('--phase-timeout', 86_400), 600)
    .option('--no-restart', 'end after the move: no restart and no teardown phase')
    .option('--profile <dir>', 'run the hubs under node --cpu-prof into DIR, with each phase\'s window in DIR/phases.json')
    .addOption(new Option('--member-devices <mode>', 'the real hub\'s serve --member-devices').choices(['own', 'shared']).default('own'))
    .option('--member-keepalives', 'members also send path keepalives of their own every 10 s, as tunnel-client does', false)
    .option('--serve-flags <flags>', 'more flags for the real hub\'s serve, space-separated (e.g. "--keepalive 30 --liveness-timeout 90")', '')
    .parse(argv, { from: 'user' })
    .opts<Settings>();
  return options;
}

async function main(): Promise<void> {
  const reason = namespacesUnavailableReason();
  if (reason) {
    console.error(`bench:hub-scale cannot run: ${reason}`);
    process.exitCode = 1;
    return;
  }
  const settings = parseSettings(process.argv.slice(2));
  if (settings.profile !== undefined) {
    settings.profile = resolve(settings.profile);
    mkdirSync(settings.profile, { recursive: true });
  }
  const nodeArgs = settings.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', settings.profile];
  const n = settings.members;
  const t = settings.phaseTimeout * 1000;
  const result: HubScaleResult = {
    members: n, memberDevices: settings.memberDevices, tunnels: null, joinMs: null, joinMsNone: null, moveAckMs: null, moveAckMsNone: null, moveAgainAckMs: null, moveAgainAckMsNone: null, restartMs: null,
    peakRssKiB: null, perMemberKiB: null, fds: null, threads: null, idleCpuPercent: null, idleCpuByThread: null, memberKeepalives: null, teardownMs: null,
    tunnelsUp: null, emptyRssKiB: null, idleRssKiB: null, noneRssKiB: null, forwardGbps2: null, forwardGbpsN: null, forwardRatio: null, forwardRuns2: null, forwardRunsN: null,
    answerMs: {}, phasesMs: {}, hubCpuMs, hubMainThreadCpuMs, failed: null,
    conditions: { date: new Date().toISOString(), loadAverage: loadavg().map((l) => Number(l.toFixed(1))), cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`, kernel: release(), node: process.version },
  };
  console.log(`hub-scale: ${n} members (member devices ${settings.memberDevices}), ${result.conditions.cpus}, Linux ${release()}, Node ${process.version}, load average ${result.conditions.loadAverage.join(' ')}, ${result.conditions.date}`);
  let phase = 'setup';
  const swarm = await createMemberSwarm({ members: n, clients: 2, concurrency: settings.concurrency });
  const clients: ClientProcess[] = [];
  let sampler: ProcessSampler | undefined;
  try {
    result.phasesMs.topology = swarm.topology.setupMs;
    result.phasesMs.prepare = swarm.prepareMs;
    console.log(`  setup: namespaces ${swarm.topology.setupMs} ms, ${n} peers with tokens ${swarm.prepareMs} ms`);
    const reflector = await swarm.startReflector({ originateSeconds: settings.memberKeepalives ? MEMBER_KEEPALIVE_SECONDS : 0 });

    phase = 'none: join';
    await noneRow(swarm, result, t, nodeArgs, (name) => (phase = `none: ${name}`));

    phase = 'engine: start';
    const engineState = swarm.copyState('engine');
    const engineArgs = ['--member-devices', settings.memberDevices, ...settings.serveFlags.split(' ').filter((flag) => flag.length > 0)];
    let hub = await swarm.startHub({ datapath: 'engine', stateDir: engineState, nodeArgs, args: engineArgs });
    sampler = new ProcessSampler(hub.pid);
    await sleep(SETTLE_MS);
    result.emptyRssKiB = sampleProcess(hub.pid).rssKiB;
    const probe = await swarm.startAdminProbe(hub);

    phase = 'engine: real members c1 and c2';
    const url = `ws://${swarm.topology.hubs[0]!.address}:${hub.runtime.wsPort}`;
    for (const host of swarm.topology.clients) clients.push(await startClientIn(host, url, await swarm.invite(engineState), swarm.workDir));
    const [c1, c2] = clients as [ClientProcess, ClientProcess];
    // Forwarding is measured through the hub: a shortcut would carry c1's traffic to c2 past it.
    await swarm.shortcutsOff(engineState, [c1.host.name, c2.host.name]);
    const throughHub = (): Promise<void> => assertNoShortcut(swarm, engineState, c1);
    await awaitReachable(c1, c2);
    phase = 'engine: forwarding with 2 tunnels';
    result.forwardRuns2 = await forwarding(c1, c2, settings, throughHub);
    result.forwardGbps2 = medianOfRuns(result.forwardRuns2);

    phase = 'engine: join';
    await probe.take();
    const members = await swarm.startMembers(hub);
    result.joinMs = await timed(hub, 'engine: join', async () => {
      await members.join(t);
      await swarm.awaitRegistryAcks(hub, 0, t);
    });
    result.answerMs.join = await probe.take();
    const afterJoin = swarm.devices();
    result.tunnels = afterJoin.tun;
    console.log(`  engine: ${n} joined (every ack recorded) in ${result.joinMs} ms; TUN devices on the hub: ${afterJoin.tun} (${afterJoin.owned} of its own)`);

    phase = 'engine: tunnels up';
    result.tunnelsUp = await awaitTunnelsUp(hub, n + 2, t);
    await sleep(SETTLE_MS);

    phase = 'engine: idle';
    await probe.take();
    const idleFrom = sampleProcess(hub.pid);
    const threadsFrom = threadCpuMs(hub.pid);
    await timed(hub, 'engine: idle', () => sleep(settings.idleSeconds * 1000));
    const idleTo = sampleProcess(hub.pid);
    result.idleCpuPercent = round1(cpuPercent(idleFrom, idleTo));
    result.idleCpuByThread = Object.fromEntries(threadCpuPercent(threadsFrom, threadCpuMs(hub.pid), idleTo.at - idleFrom.at));
    result.idleRssKiB = idleTo.rssKiB;
    result.perMemberKiB = round1((idleTo.rssKiB - result.emptyRssKiB) / n);
    result.answerMs.idle = await probe.take();
    const echoes = await reflector.stats();
    if (settings.memberKeepalives) result.memberKeepalives = { originated: echoes.originated, answered: echoes.answered };
    console.log(`  engine idle ${settings.idleSeconds} s: hub CPU ${result.idleCpuPercent} % of one core; RSS ${mib(idleTo.rssKiB)} (empty hub ${mib(result.emptyRssKiB)}); ` +
      `${idleTo.fds} descriptors, ${idleTo.threads} threads (${Object.entries(result.idleCpuByThread).map(([name, share]) => `${name} ${share} %`).join(', ')}); keepalives answered for ${echoes.addresses} member addresses in the last ${echoes.windowMs / 1000} s` +
      (settings.memberKeepalives ? `; the members' own keepalives: ${echoes.originated} sent, ${echoes.answered} answered` : ''));

    phase = `engine: forwarding with ${n + 2} tunnels`;
    result.forwardRunsN = await forwarding(c1, c2, settings, throughHub);
    result.forwardGbpsN = medianOfRuns(result.forwardRunsN);
    if (result.forwardGbps2 !== null && result.forwardGbpsN !== null) result.forwardRatio = Number((result.forwardGbpsN / result.forwardGbps2).toFixed(2));

    phase = 'engine: move';
    result.moveAckMs = await timedMove(swarm, hub, members, 'engine: move', t);
    result.answerMs.move = await probe.take();
    await sleep(MOVE_AGAIN_AFTER_MS);
    phase = 'engine: move again';
    result.moveAgainAckMs = await timedMove(swarm, hub, members, 'engine: move again', t);
    console.log(`  engine: ${n} moved (every ack recorded) in ${result.moveAckMs} ms, and again ${MOVE_AGAIN_AFTER_MS / 1000} s later in ${result.moveAgainAckMs} ms`);
    await probe.stop();
    if (settings.restart) {
      phase = 'engine: restart';
      await members.reconnect(true);
      const restartStarted = Date.now();
      const stopWindow = window(hub.pid, 'engine: restart, SIGTERM to exit');
      const stopMs = await hub.stop(t);
      stopWindow.end();
      const goneMs = await swarm.awaitNoDevices(0, t);
      const startStarted = performance.now();
      const startUs = monotonicMicros();
      hub = await swarm.startHub({ datapath: 'engine', stateDir: engineState, nodeArgs, args: engineArgs });
      profiledPhases.push({ name: 'engine: restart, start to listening', pid: hub.pid, startUs, endUs: monotonicMicros() });
      sampler.follow(hub.pid);
      const listeningMs = performance.now() - startStarted;
      const backWindow = window(hub.pid, 'engine: restart, members back');
      await members.awaitBack(restartStarted, t);
      backWindow.end();
      const backMs = Date.now() - restartStarted;
      const acksWindow = window(hub.pid, 'engine: restart, acks recorded');
      await swarm.awaitRegistryAcks(hub, members.generation, t);
      acksWindow.end();
      const acksMs = Date.now() - restartStarted;
      if (settings.memberDevices === 'own') await awaitDevices(swarm, n + clients.length, t);
      else await awaitSharedAddresses(swarm, n + clients.length, t);
      result.restartMs = Date.now() - restartStarted;
      result.phasesMs.restartBack = backMs;
      result.phasesMs.restartAcks = acksMs;
      result.phasesMs.restartStop = Math.round(stopMs);
      result.phasesMs.restartDevicesGone = goneMs;
      result.phasesMs.restartListening = Math.round(listeningMs);
      console.log(`  engine restart: ${result.restartMs} ms until every tunnel was back and every config acked ` +
        `(SIGTERM to exit ${Math.round(stopMs)} ms, devices gone ${goneMs} ms later, new hub listening ${Math.round(listeningMs)} ms after its start; ` +
        `every member had its config ${backMs} ms and every ack was recorded ${acksMs} ms after the SIGTERM)`);

      phase = 'engine: teardown';
      await members.reconnect(false);
      const teardownStarted = performance.now();
      const teardownWindow = window(hub.pid, 'engine: teardown, SIGTERM to exit');
      const exitMs = await hub.stop(t);
      teardownWindow.end();
      await swarm.awaitNoDevices(0, t);
      result.teardownMs = Math.round(performance.now() - teardownStarted);
      result.phasesMs.teardownExit = Math.round(exitMs);
    }
    const peaks = sampler.stop();
    sampler = undefined;
    result.peakRssKiB = peaks.peakRssKiB;
    result.fds = peaks.fds;
    result.threads = peaks.threads;
    phase = 'done';
  } catch (err) {
    result.failed = `${phase}: ${(err as Error).message}`;
    // What the hub had reached when the phase gave up.
    result.tunnels ??= swarm.devices().tun;
    if (sampler) {
      const peaks = sampler.stop();
      Object.assign(result, { peakRssKiB: peaks.peakRssKiB, fds: peaks.fds, threads: peaks.threads });
    }
    console.error(`bench:hub-scale FAILED at ${result.failed}`);
    process.exitCode = 1;
  } finally {
    for (const client of clients) await client.stop();
    await swarm.destroy();
  }
  printTable(result, settings);
  if (settings.profile !== undefined) {
    writeFileSync(`${settings.profile}/phases.json`, `${JSON.stringify(profiledPhases)}\n`);
    console.log(`  CPU profiles and phases.json in ${settings.profile}: node dist/bench/swarm-cpu-profile.js ${settings.profile}`);
  }
  if (settings.json) console.log(JSON.stringify(result));
}

/** The `--datapath none` row on a copy of the same state: join and move, then the hub stops. */
async function noneRow(swarm: MemberSwarm, result: HubScaleResult, t: number, nodeArgs: readonly string[], at: (phase: string) => void): Promise<void> {
  const hub = await swarm.startHub({ datapath: 'none', stateDir: swarm.copyState('none'), nodeArgs });
  let members: SwarmMembers | undefined;
  try {
    members = await swarm.startMembers(hub);
    const joined = members;
    result.joinMsNone = await timed(hub, 'none: join', async () => {
      await joined.join(t);
      await swarm.awaitRegistryAcks(hub, 0, t);
    });
    at('move');
    result.moveAckMsNone = await timedMove(swarm, hub, joined, 'none: move', t);
    result.noneRssKiB = sampleProcess(hub.pid).rssKiB;
    await sleep(MOVE_AGAIN_AFTER_MS);
    at('move again');
    result.moveAgainAckMsNone = await timedMove(swarm, hub, joined, 'none: move again', t);
    console.log(`  none: ${result.members} joined in ${result.joinMsNone} ms, moved in ${result.moveAckMsNone} ms and again in ${result.moveAgainAckMsNone} ms; hub RSS ${mib(result.noneRssKiB)}`);
  } finally {
    await members?.stop();
    await hub.stop();
  }
}

/**
 * Gbit/s of `iperfRounds` iperf3 runs from c1 to c2 through the hub (null: the run failed, and why
 * is printed). The figure is their median: on a shared 2-core machine one run in a few is far off.
 */
async function forwarding(c1: ClientProcess, c2: ClientProcess, settings: Settings, throughHub: () => Promise<void>): Promise<(number | null)[]> {
  const runs: (number | null)[] = [];
  for (let i = 0; i < settings.iperfRounds; i++) {
    try {
      runs.push(Number((await iperfThroughHub(c1, c2, settings.iperfSeconds)).toFixed(3)));
    } catch (err) {
      console.log(`  forwarding run ${i + 1} failed: ${(err as Error).message}`);
      runs.push(null);
    }
  }
  await throughHub();
  console.log(`  forwarding c1 -> c2 through the hub: ${runs.map((r) => (r === null ? 'failed' : r.toFixed(2))).join(' / ')} Gbit/s (median ${medianOfRuns(runs) ?? '-'})`);
  return runs;
}

/** Throws when `client` has a shortcut: its traffic would not have crossed the hub. */
async function assertNoShortcut(swarm: MemberSwarm, stateDir: string, client: ClientProcess): Promise<void> {
  const shortcuts = await swarm.shortcutCount(stateDir, client.host.name);
  if (shortcuts > 0) throw new Error(`${client.host.name} has ${shortcuts} shortcut(s): the forwarding runs did not all cross the hub`);
}

/** The median of the runs that reported a transfer; null when none did. */
function medianOfRuns(runs: readonly (number | null)[]): number | null {
  const done = runs.filter((r): r is number => r !== null);
  return done.length === 0 ? null : Number(median(done).toFixed(3));
}

/** Waits (bounded) until the hub's log says `count` tunnels are up; resolves with how many are. */
async function awaitTunnelsUp(hub: HubProcess, count: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (hub.tunnelsUp() < count && Date.now() < deadline) await sleep(500);
  return hub.tunnelsUp();
}

async function awaitDevices(swarm: MemberSwarm, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { owned } = swarm.devices();
    if (owned >= count) return;
    if (Date.now() > deadline) throw new Error(`${owned} of ${count} tunnels back after ${timeoutMs} ms`);
    await sleep(500);
  }
}

/**
 * Waits until `count` member links have their inner address on the shared device (each tunnel's,
 * as it is made): the hub's end's local route in table local, which the shared device adds for
 * each member. ipIn's output buffer holds the listing of every route (10,000 pass execFileSync's
 * default 1 MiB); only a device not made yet counts as none.
 */
async function awaitSharedAddresses(swarm: MemberSwarm, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const namespace = swarm.topology.hubs[0]!.namespace;
  for (;;) {
    let addresses = 0;
    try {
      addresses = ipIn(namespace, ['-4', '-o', 'route', 'show', 'table', 'local', 'type', 'local', 'dev', HUB_SHARED_DEVICE]).split('\n').filter((line) => line.length > 0).length;
    } catch (err) {
      if (!/does not exist|Cannot find device/.test(String((err as { stderr?: unknown }).stderr))) throw err;
    }
    if (addresses >= count) return;
    if (Date.now() > deadline) throw new Error(`${addresses} of ${count} tunnels back on ${HUB_SHARED_DEVICE} after ${timeoutMs} ms`);
    await sleep(500);
  }
}

function printTable(result: HubScaleResult, settings: Settings): void {
  const ms = (value: number | null): string => (value === null ? '-' : `${value} ms`);
  const rows: [string, string, string][] = [
    ['all joined, every ack recorded', ms(result.joinMs), ms(result.joinMsNone)],
    ['all moved at once, every ack recorded', ms(result.moveAckMs), ms(result.moveAckMsNone)],
    ['  and again on the same hub', ms(result.moveAgainAckMs), ms(result.moveAgainAckMsNone)],
    ['restart until every tunnel back and acked', ms(result.restartMs), ''],
    ['teardown (SIGTERM until no device left)', ms(result.teardownMs), ''],
    ['TUN devices on the hub / tunnels up', `${result.tunnels ?? '-'} / ${result.tunnelsUp ?? '-'}`, ''],
    ['hub RSS: peak / idle with all / empty', `${kib(result.peakRssKiB)} / ${kib(result.idleRssKiB)} / ${kib(result.emptyRssKiB)}`, kib(result.noneRssKiB)],
    ['per member beyond the empty hub', result.perMemberKiB === null ? '-' : `${result.perMemberKiB} KiB`, ''],
    ['descriptors / threads at the peak', `${result.fds ?? '-'} / ${result.threads ?? '-'}`, ''],
    [`idle CPU over ${settings.idleSeconds} s`, result.idleCpuPercent === null ? '-' : `${result.idleCpuPercent} % of one core`, ''],
    ['forwarding c1 -> c2: 2 tunnels / N+2 / ratio', result.forwardRatio === null ? '-' : `${result.forwardGbps2} / ${result.forwardGbpsN} Gbit/s / ${result.forwardRatio}`, ''],
  ];
  const cpu = (phase: string): string => (result.hubCpuMs[phase] === undefined ? '-' : `${result.hubCpuMs[phase]} ms`);
  rows.push(['hub CPU time: join / move / again', `${cpu('engine: join')} / ${cpu('engine: move')} / ${cpu('engine: move again')}`, `${cpu('none: join')} / ${cpu('none: move')} / ${cpu('none: move again')}`]);
  const main = (phase: string): string => (result.hubMainThreadCpuMs[phase] === undefined ? '-' : `${result.hubMainThreadCpuMs[phase]} ms`);
  rows.push(['  of it the main thread', `${main('engine: join')} / ${main('engine: move')} / ${main('engine: move again')}`, `${main('none: join')} / ${main('none: move')} / ${main('none: move again')}`]);
  for (const [name, times] of Object.entries(result.answerMs)) {
    rows.push([`admin answer during ${name} (p50/p99/max)`, `${times.p50} / ${times.p99} / ${times.max} ms`, '']);
  }
  console.log(`hub-scale: ${result.members} members, member devices ${result.memberDevices}${result.failed ? ` (FAILED at ${result.failed})` : ''}`);
  console.log(`  ${''.padEnd(46)}${'engine'.padEnd(34)}none`);
  for (const [name, engine, none] of rows) console.log(`  ${name.padEnd(46)}${engine.padEnd(34)}${none}`);
}

/** The timed phases' windows, for the CPU profiles (`--profile`). */
const profiledPhases: ProfiledPhase[] = [];
/** The hub's CPU time per timed phase. */
const hubCpuMs: Record<string, number> = {};
const hubMainThreadCpuMs: Record<string, number> = {};

async function timed(hub: HubProcess, name: string, work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  const startUs = monotonicMicros();
  const cpuFrom = sampleProcess(hub.pid).cpuMs;
  const mainFrom = taskCpuMs(hub.pid, hub.pid);
  await work();
  hubCpuMs[name] = Math.round(sampleProcess(hub.pid).cpuMs - cpuFrom);
  hubMainThreadCpuMs[name] = Math.round(taskCpuMs(hub.pid, hub.pid) - mainFrom);
  profiledPhases.push({ name, pid: hub.pid, startUs, endUs: monotonicMicros() });
  return Math.round(performance.now() - started);
}

/** Times one storm: every member reconnects from a new address, until the registry has every ack. */
function timedMove(swarm: MemberSwarm, hub: HubProcess, members: SwarmMembers, name: string, timeoutMs: number): Promise<number> {
  return timed(hub, name, async () => {
    await members.move(timeoutMs);
    await swarm.awaitRegistryAcks(hub, members.generation, timeoutMs);
  });
}

/** A profiled window of `pid` (no CPU time: the hub may exit inside it) opened now; `end` closes it. */
function window(pid: number, name: string): { end: () => void } {
  const startUs = monotonicMicros();
  return { end: () => void profiledPhases.push({ name, pid, startUs, endUs: monotonicMicros() }) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function mib(kibValue: number): string {
  return `${(kibValue / 1024).toFixed(1)} MiB`;
}

function kib(value: number | null): string {
  return value === null ? '-' : mib(value);
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exitCode = 1;
});
