/**
 * bench:admin-scale, as functions other benchmarks can call: how long a hub of thousands of peers
 * takes to answer a `/metrics` scrape (per-peer series on and off), `tunnel-hub peer list` and
 * `tunnel-hub status`, each with and without filters. {@link measureAdminQueries} measures any
 * running hub; {@link runAdminScale} builds one (`serve --datapath none`, half of its peers
 * connected over WebSocket as simulated members) and measures it. `admin-scale-cli.ts` prints.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { issuePeerToken } from '../server/auth/issue-token.js';
import { openHubState } from '../server/hub-state/hub-state.js';
import { initHubState } from '../server/hub-state/init-hub-state.js';
import { readServeRuntime } from '../server/hub/serve-runtime-file.js';
import { readStatusSocket, statusSocketPath } from '../server/hub/status-socket.js';
import { WebSocket } from 'ws';
import { HUB_CLI, connectMembers, waitUntil, type SimulatedMember } from './simulated-members.js';

/** One timed answer: the median of the runs. */
export interface TimedAnswer {
  /** Wall-clock milliseconds, as a user waits. */
  ms: number;
  /** CPU milliseconds of the command's own process (user + system); null when /usr/bin/time is missing. */
  cpuMs: number | null;
  /** CPU milliseconds the hub spent meanwhile (building the status it was asked for). */
  hubCpuMs: number;
  /** Bytes of the answer. */
  bytes: number;
  /** Peers (CLI) or series (scrape) in the answer. */
  count: number;
}

/** What {@link measureCliQueries} found. */
export interface CliQueryFigures {
  /** Per command line (`peer list --state up`, …). */
  cli: Record<string, TimedAnswer>;
  /** The same with {@link AdminQueryTarget.compareCli}; null without one. */
  compared: Record<string, TimedAnswer> | null;
}

/** What {@link measureAdminQueries} found. */
export interface AdminQueryFigures extends CliQueryFigures {
  scrape: TimedAnswer;
}

/** A running hub to measure. */
export interface AdminQueryTarget {
  stateDir: string;
  adminPort: number;
  hubPid: number;
  /** A part of some peers' names, for `--filter`. */
  filterText: string;
  /** Runs of each query (the median is kept); default 3. */
  runs?: number;
  /** Another build's `server/cli.js` (the one before a change): each query is timed with it too, right after. */
  compareCli?: string;
}

/** Keepalives of the simulated members: well inside the hub's --liveness-timeout of 120 s. */
const KEEPALIVE_MS = 10_000;

/** What {@link runAdminScale} found for one size. */
export interface AdminScaleFigures {
  members: number;
  connected: number;
  /** Control sessions the hub had open when the measurements began (per-peer on). */
  openSessions: number;
  /** Every connected member joined (hello, config, ack), 100 at a time. */
  joinMs: number;
  scrapePerPeer: TimedAnswer;
  scrapeTotalsOnly: TimedAnswer;
  cli: Record<string, TimedAnswer>;
  /** Each CLI query with the build given as `compareCli`, against the same hub; null without one. */
  cliCompared: Record<string, TimedAnswer> | null;
  /** The 1-minute load average when the size was done: the machine is shared. */
  loadAverage: number;
}

/**
 * The CLI queries measured, without `--state DIR`; first `--help`, the start with every command
 * loaded, and `status --help`, the start of `status` alone (a run loads its own command only).
 */
export function adminQueries(filterText: string): string[][] {
  return [
    ['--help'], ['status', '--help'], ['peer', 'list'], ['peer', 'list', '--state', 'up'], ['peer', 'list', '--filter', filterText], ['peer', 'list', '--json'],
    ['status'], ['status', '--state', 'up'], ['status', '--filter', filterText], ['status', '--json'],
  ];
}

/** Times `/metrics` (median of `runs` + 2 scrapes) on a running hub. */
export function measureScrape(target: AdminQueryTarget): Promise<TimedAnswer> {
  return median((target.runs ?? 3) + 2, async () => {
    const hubBefore = cpuMsOf(target.hubPid);
    const start = performance.now();
    const text = await get(target.adminPort, '/metrics');
    const ms = performance.now() - start;
    return { ms, cpuMs: null, hubCpuMs: cpuMsOf(target.hubPid) - hubBefore, bytes: Buffer.byteLength(text), count: text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length };
  });
}

/**
 * Times every CLI query of {@link adminQueries} (median of `runs`) against a running hub; with
 * `compareCli`, each query with that build too, right after, so both builds meet the same load.
 */
export async function measureCliQueries(target: AdminQueryTarget): Promise<CliQueryFigures> {
  const cli: Record<string, TimedAnswer> = {};
  const compared: Record<string, TimedAnswer> | null = target.compareCli === undefined ? null : {};
  for (const args of adminQueries(target.filterText)) {
    cli[args.join(' ')] = await median(target.runs ?? 3, () => runCli(HUB_CLI, target, args));
    if (compared && target.compareCli) compared[args.join(' ')] = await median(target.runs ?? 3, () => runCli(target.compareCli as string, target, args));
  }
  return { cli, compared };
}

/** Times one scrape of `/metrics` and every CLI query against a running hub. */
export async function measureAdminQueries(target: AdminQueryTarget): Promise<AdminQueryFigures> {
  return { scrape: await measureScrape(target), ...await measureCliQueries(target) };
}

/**
 * Builds a hub of `members` peers (one registry transaction), starts `serve --datapath none`
 * with per-peer metrics on, connects half of them, measures every query, then does the same
 * with `--metrics-per-peer off` for the scrape.
 */
export async function runAdminScale(members: number, options: { runs?: number; compareCli?: string; log?: (line: string) => void } = {}): Promise<AdminScaleFigures> {
  const log = options.log ?? (() => undefined);
  const connected = Math.floor(members / 2);
  const dir = mkdtempSync(join(tmpdir(), 'bench-admin-scale-'));
  try {
    const tokens = await fillRegistry(dir, members, connected);
    log(`  registry: ${members} peers, ${connected} tokens`);
    const run = async (perPeer: boolean): Promise<{ joinMs: number; open: number; figures: AdminQueryFigures }> => {
      const hub = await startHub(dir, perPeer);
      let sessions: SimulatedMember[] = [];
      // Members that stay silent past the liveness timeout count as gone: keep them alive, as clients do.
      const keepalive = setInterval(() => {
        for (const session of sessions) if (session.ws.readyState === WebSocket.OPEN) session.ws.send('{"v":1,"type":"keepalive"}');
      }, KEEPALIVE_MS);
      try {
        const joinStart = performance.now();
        sessions = await connectMembers(`ws://127.0.0.1:${hub.wsPort}`, tokens, 100);
        const joinMs = performance.now() - joinStart;
        const open = ((await readStatusSocket(statusSocketPath(dir), { view: 'sessions' })) as { sessions: string[] }).sessions.length;
        log(`  per-peer ${perPeer ? 'on' : 'off'}: ${sessions.length} members joined in ${Math.round(joinMs)} ms; ${open} sessions open as measuring starts`);
        const target = { stateDir: dir, adminPort: hub.adminPort, hubPid: hub.process.pid ?? 0, filterText: 'm12',
          ...(options.runs ? { runs: options.runs } : {}), ...(options.compareCli ? { compareCli: options.compareCli } : {}) };
        const figures = perPeer ? await measureAdminQueries(target) : { scrape: await measureScrape(target), cli: {}, compared: null };
        return { joinMs, open, figures };
      } finally {
        clearInterval(keepalive);
        for (const session of sessions) session.ws.terminate();
        await hub.stop();
      }
    };
    const on = await run(true);
    const off = await run(false);
    return {
      members, connected, openSessions: on.open, joinMs: on.joinMs, scrapePerPeer: on.figures.scrape, scrapeTotalsOnly: off.figures.scrape, cli: on.figures.cli, cliCompared: on.figures.compared,
      loadAverage: loadavg()[0] ?? 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Peers m0…m{members-1} in one transaction through the store API, and a peer token for the first `tokens`. */
async function fillRegistry(dir: string, members: number, tokens: number): Promise<string[]> {
  await initHubState(dir, { endpoint: '198.51.100.1', pool: '10.64.0.0/14' });
  const state = await openHubState(dir);
  try {
    await state.registry.transaction(async (tx) => {
      for (let i = 0; i < members; i++) await tx.peers.add({ name: `m${i}` });
    });
    const versions = new Map((await state.registry.peers.list()).map((peer) => [peer.name, peer.tokenVersion]));
    return await Promise.all(Array.from({ length: tokens }, (_, i) => issuePeerToken(state.signingKey.privateKey, {
      name: `m${i}`, version: versions.get(`m${i}`) ?? 0, now: Date.now(), ttlMs: 3_600_000,
    })));
  } finally {
    await state.close();
  }
}

interface BenchHub {
  process: ChildProcess;
  wsPort: number;
  adminPort: number;
  stop(): Promise<void>;
}

/** `serve --datapath none` on loopback with the admin listener, the per-address limits lifted (every member is 127.0.0.1). */
async function startHub(dir: string, perPeer: boolean): Promise<BenchHub> {
  const hub = spawn(process.execPath, [HUB_CLI, '--state', dir, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0', '--datapath', 'none',
    '--keepalive', '30', '--liveness-timeout', '120', '--per-source-rate', '10000', '--per-source-max', '100000',
    '--admin-listen', '127.0.0.1:0', '--metrics-per-peer', perPeer ? 'on' : 'off'],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TUNNEL_LOG_LEVEL: 'warn' } });
  const stop = async (): Promise<void> => {
    if (hub.exitCode !== null) return;
    hub.kill('SIGTERM');
    await new Promise((resolve) => hub.once('exit', resolve));
  };
  try {
    const runtime = await waitUntil(() => {
      const r = readServeRuntime(dir);
      return r !== undefined && r.pid === hub.pid && r.admin ? r : undefined;
    }, 120_000, 'the hub to start');
    return { process: hub, wsPort: runtime.wsPort, adminPort: runtime.admin?.port ?? 0, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs one `tunnel-hub` query of the build `cli` under /usr/bin/time (for its CPU), and what the hub spent meanwhile. */
function runCli(cli: string, target: AdminQueryTarget, args: string[]): Promise<TimedAnswer> {
  const timeFile = join(tmpdir(), `bench-admin-scale-time-${process.pid}`);
  const timed = hasTime();
  const command = timed ? '/usr/bin/time' : process.execPath;
  const commandArgs = [...(timed ? ['-f', '%U %S', '-o', timeFile, process.execPath] : []), cli, '--state', target.stateDir, ...args];
  return new Promise((resolve, reject) => {
    const hubBefore = cpuMsOf(target.hubPid);
    const start = performance.now();
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - start;
      if (code !== 0) {
        reject(new Error(`tunnel-hub ${args.join(' ')} exited ${code}: ${err.trim()}`));
        return;
      }
      const text = Buffer.concat(out).toString('utf8');
      const [user, system] = timed ? readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number) : [NaN, NaN];
      if (timed) rmSync(timeFile, { force: true });
      resolve({
        ms, cpuMs: timed ? Math.round(((user ?? 0) + (system ?? 0)) * 1000) : null, hubCpuMs: cpuMsOf(target.hubPid) - hubBefore,
        bytes: Buffer.byteLength(text), count: countPeers(args, text),
      });
    });
  });
}

/** Peers in a query's output: JSON entries, or table rows below the header. */
function countPeers(args: string[], text: string): number {
  if (args.includes('--help')) return 0;
  if (args.includes('--json')) {
    const value = JSON.parse(text) as unknown[] | { peers: unknown[] };
    return Array.isArray(value) ? value.length : value.peers.length;
  }
  if (text.startsWith('no peer')) return 0;
  // status prints the hub line and a blank line first, then its peer table.
  const table = args[0] === 'status' ? text.split('\n\n')[1] ?? '' : text;
  return Math.max(0, table.trimEnd().split('\n').length - 1);
}

let timeAvailable: boolean | undefined;
function hasTime(): boolean {
  timeAvailable ??= spawnSync('/usr/bin/time', ['-f', '%U', 'true']).status === 0;
  return timeAvailable;
}

/** User + system CPU milliseconds of a process so far (0 when it is gone). */
function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name; in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

/** Runs `once` `runs` times and keeps the run with the median wall time. */
async function median(runs: number, once: () => Promise<TimedAnswer>): Promise<TimedAnswer> {
  const results: TimedAnswer[] = [];
  for (let i = 0; i < runs; i++) {
    results.push(await once());
    // A scrape shares a status reading with requests of the same moment: let it go first.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  results.sort((a, b) => a.ms - b.ms);
  const middle = results[Math.floor(results.length / 2)] as TimedAnswer;
  return { ...middle, ms: Math.round(middle.ms) };
}
