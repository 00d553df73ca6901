/**
 * bench:soak — 1,000 simulated members joining, leaving and moving against one hub process
 * (`serve --datapath none`, default limits and timings) for SOAK_SECONDS (default 600). Members
 * speak the protocol over WebSocket from 250 loopback addresses (127.0.1.1-250), four to an
 * address, so the hub's per-address limits stay at their defaults; a move is a reconnect from
 * another address, which the hub sees as a new endpoint and reconfigures for. They answer every
 * config with an ack and send keepalives; about 90 % are connected at any time. One viewer
 * watches the status page's event stream throughout. Every 10 s the hub's own /metrics gives its
 * RSS, V8 heap and open descriptors; printed at the start (after a warm-up of churn), the middle
 * and the end, with the spread. Target: flat within 10 %.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { readServeRuntime } from '../server/hub/serve-runtime-file.js';
import { HUB_CLI, prepareLoadState, waitUntil } from './simulated-members.js';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
/** Leaves, joins and moves per second, spread over the run. */
const CHURN_PER_SECOND = Number(process.env.SOAK_CHURN ?? 20);
const SOURCES = 250;
const SAMPLE_MS = 10_000;
/** Churn before the first sample, so it is taken in the steady state (population ~90 %, heap grown). */
const WARMUP_MS = Math.min(60, SECONDS / 5) * 1000;
/** The V8 heap saws up and down with garbage collection: a leak shows as its floor rising, so the floor around each point is printed too. */
const FLOOR_WINDOW_MS = 60_000;
const KEEPALIVE_MS = 10_000;

interface Member {
  name: string;
  token: string;
  source: string;
  ws: WebSocket | undefined;
}

interface Sample {
  at: number;
  rss: number;
  heap: number;
  /** What V8 holds for its heap (used or not) and memory outside it (buffers): RSS beyond the heap in use. */
  heapTotal: number;
  external: number;
  fds: number;
}

const counts = { joins: 0, leaves: 0, moves: 0, configs: 0, refused: 0, events: 0 };

async function main(): Promise<void> {
  const { dir, tokens } = await prepareLoadState(MEMBERS, '10.64.0.0/16');
  const members: Member[] = tokens.map((token, i) => ({ name: `m${i}`, token, source: source(i), ws: undefined }));

  const hub = spawn(process.execPath, [HUB_CLI, '--state', dir, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0',
    '--datapath', 'none', '--admin-listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TUNNEL_LOG_LEVEL: 'warn' } });
  let hubErr = '';
  hub.stderr.on('data', (chunk: Buffer) => (hubErr = (hubErr + chunk.toString()).slice(-4000)));
  const keepalive = setInterval(() => {
    for (const member of members) if (member.ws?.readyState === WebSocket.OPEN) member.ws.send('{"v":1,"type":"keepalive"}');
  }, KEEPALIVE_MS);
  let viewer: { close(): void } | undefined;
  try {
    const runtime = await waitUntil(() => {
      const r = readServeRuntime(dir);
      return r !== undefined && r.pid === hub.pid && r.admin ? r : undefined;
    }, 20_000, 'hub start');
    const url = `ws://127.0.0.1:${runtime.wsPort}`;
    const adminPort = runtime.admin?.port ?? 0;

    const joinStart = performance.now();
    const first90 = members.slice(0, Math.round(MEMBERS * 0.9));
    for (let i = 0; i < first90.length; i += 50) await Promise.all(first90.slice(i, i + 50).map((member) => connect(url, member)));
    console.log(`soak: ${first90.length} of ${MEMBERS} members joined in ${Math.round(performance.now() - joinStart)} ms; churn ${CHURN_PER_SECOND}/s, ${WARMUP_MS / 1000} s of warm-up, then ${SECONDS} s measured`);
    viewer = watchEvents(adminPort);

    const samples: Sample[] = [];
    const churn = setInterval(() => {
      for (let i = 0; i < CHURN_PER_SECOND / 10; i++) void step(url, members);
    }, 100);
    const sampler = setInterval(() => void sample(adminPort).then((s) => samples.push(s), (err: Error) => console.error(`soak: sample failed: ${err.message}`)), SAMPLE_MS);
    await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
    clearInterval(churn);
    clearInterval(sampler);
    samples.push(await sample(adminPort));
    if (hub.exitCode !== null) throw new Error(`the hub exited: ${hubErr}`);

    const nearest = (at: number): Sample => samples.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best));
    const [first, middle, last] = [nearest(started), nearest(started + SECONDS * 500), samples[samples.length - 1] as Sample];
    const floor = (point: Sample): number => Math.min(...samples.filter((s) => Math.abs(s.at - point.at) <= FLOOR_WINDOW_MS / 2).map((s) => s.heap));
    const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
    const change = (a: number, b: number): string => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;
    const spread = (pick: (s: Sample) => number, show: (n: number) => string): string => `${show(Math.min(...samples.map(pick)))} .. ${show(Math.max(...samples.map(pick)))}`;
    console.log(`soak: ${counts.joins} joins, ${counts.leaves} leaves, ${counts.moves} moves, ${counts.configs} configs acked, ${counts.refused} connections refused, ${counts.events} status-page updates; ${samples.length} samples`);
    console.log('                 start          middle         end            end vs start   spread');
    console.log(`  hub RSS        ${mib(first.rss).padEnd(15)}${mib(middle.rss).padEnd(15)}${mib(last.rss).padEnd(15)}${change(first.rss, last.rss).padEnd(15)}${spread((s) => s.rss, mib)}`);
    console.log(`  hub V8 heap    ${mib(first.heap).padEnd(15)}${mib(middle.heap).padEnd(15)}${mib(last.heap).padEnd(15)}${change(first.heap, last.heap).padEnd(15)}${spread((s) => s.heap, mib)}`);
    console.log(`  heap floor *   ${mib(floor(first)).padEnd(15)}${mib(floor(middle)).padEnd(15)}${mib(floor(last)).padEnd(15)}${change(floor(first), floor(last))}`);
    console.log(`  V8 heap held   ${mib(first.heapTotal).padEnd(15)}${mib(middle.heapTotal).padEnd(15)}${mib(last.heapTotal).padEnd(15)}${change(first.heapTotal, last.heapTotal).padEnd(15)}${spread((s) => s.heapTotal, mib)}`);
    console.log(`  V8 external    ${mib(first.external).padEnd(15)}${mib(middle.external).padEnd(15)}${mib(last.external).padEnd(15)}${change(first.external, last.external).padEnd(15)}${spread((s) => s.external, mib)}`);
    console.log(`  hub open fds   ${String(first.fds).padEnd(15)}${String(middle.fds).padEnd(15)}${String(last.fds).padEnd(15)}${change(first.fds, last.fds).padEnd(15)}${spread((s) => s.fds, String)}`);
    console.log(`  * the lowest heap sampled within ${FLOOR_WINDOW_MS / 2000} s of the point: what garbage collection leaves, where a leak would show`);
  } catch (err) {
    console.error(hubErr.split('\n').slice(-5).join('\n'));
    throw err;
  } finally {
    clearInterval(keepalive);
    viewer?.close();
    for (const member of members) member.ws?.terminate();
    hub.kill('SIGTERM');
    await new Promise((resolve) => hub.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Four members to a loopback address: 127.0.1.1 .. 127.0.1.250. */
function source(i: number): string {
  return `127.0.1.${(i % SOURCES) + 1}`;
}

/**
 * One random event: a third are moves (a reconnect from another address); the rest are leaves
 * while more than 90 % are connected, else joins, so the population hovers around 90 %.
 */
async function step(url: string, members: Member[]): Promise<void> {
  const connected = members.filter((member) => member.ws !== undefined);
  const gone = members.filter((member) => member.ws === undefined);
  const pick = <T>(list: T[]): T | undefined => list[Math.floor(Math.random() * list.length)];
  if (Math.random() < 1 / 3) {
    const member = pick(connected);
    if (!member?.ws) return;
    counts.moves += 1;
    member.ws.close();
    member.ws = undefined;
    member.source = source(Math.floor(Math.random() * SOURCES));
    await connect(url, member);
  } else if (connected.length > members.length * 0.9) {
    const member = pick(connected);
    if (!member?.ws) return;
    counts.leaves += 1;
    const ws = member.ws;
    member.ws = undefined;
    ws.close();
  } else {
    const member = pick(gone);
    if (!member) return;
    counts.joins += 1;
    await connect(url, member);
  }
}

/** Connects `member` from its source address: hello, then an ack for every config. */
function connect(url: string, member: Member): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress: member.source, headers: { authorization: `Bearer ${member.token}` } });
    member.ws = ws;
    ws.on('error', () => {
      counts.refused += 1;
      if (member.ws === ws) member.ws = undefined;
      resolve();
    });
    ws.on('close', () => {
      if (member.ws === ws) member.ws = undefined;
    });
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; version?: number };
      if (message.type !== 'config' || message.version === undefined) return;
      counts.configs += 1;
      ws.send(JSON.stringify({ v: 1, type: 'ack', version: message.version }));
    });
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', software: 'bench-soak', endpoint: member.source }));
      resolve();
    });
  });
}

/** The hub's RSS, V8 heap (in use and held), memory outside the heap and open descriptors, from its own /metrics. */
async function sample(adminPort: number): Promise<Sample> {
  const text = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port: adminPort, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
    }).on('error', reject).end();
  });
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { at: Date.now(), rss: value('process_resident_memory_bytes'), heap: value('nodejs_heap_size_used_bytes'),
    heapTotal: value('nodejs_heap_size_total_bytes'), external: value('nodejs_external_memory_bytes'), fds: value('process_open_fds') };
}

/** Watches the status page's event stream, as an operator's browser would, counting updates. */
function watchEvents(adminPort: number): { close(): void } {
  const req = request({ host: '127.0.0.1', port: adminPort, path: '/events' }, (res) => {
    res.setEncoding('utf8').on('data', (chunk: string) => {
      counts.events += chunk.split('\n\n').filter((frame) => /^data: /m.test(frame)).length;
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { close: () => req.destroy() };
}

await main();
