/**
 * Summarises the hub's CPU profiles of a `bench:hub-scale --profile DIR` run: per timed phase (the
 * windows in DIR/phases.json, cut out of the profile of the hub that ran it), where the CPU went by
 * part of the hub (the first frame from the leaf up that belongs to a known part) and the functions
 * with the most self time.
 *   node dist/bench/swarm-cpu-profile.js DIR [--top N]
 * V8 stamps samples with the monotonic clock, the same as process.hrtime in the benchmark.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One timed phase of a benchmark: which hub ran it and when (monotonic microseconds). */
export interface ProfiledPhase {
  name: string;
  pid: number;
  startUs: number;
  endUs: number;
}

/** The monotonic clock V8's profiler stamps samples with, in microseconds. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Parts of the hub, tried from the leaf frame up; the first that matches gets the sample. */
const PARTS: readonly [string, RegExp][] = [
  ['logging (pino)', /node_modules\/(pino|sonic-boom|fast-redact|thread-stream)\//],
  ['registry (server/registry, better-sqlite3)', /\/server\/registry\/|better-sqlite3/],
  ['planPeer and link specs', /\/server\/control\/(plan-peer|hub-link-specs|peer-link-specs|choose-encapsulation|link-end-esp|redact-binding-keys)\.js/],
  ['datapath apply (engine, kernel seam)', /\/shared\/datapath\/|\/native\/|\/server\/hub\/engine-hub-datapath\.js/],
  ['session auth (tokens, jose)', /node_modules\/jose\/|\/server\/control\/(authenticate-bearer|verify-client-token|token-replay-cache)\.js|\/server\/auth\//],
  ['protocol codecs (zod, shared/protocol)', /node_modules\/zod\/|\/shared\/protocol\/|\/shared\/wire\//],
  ['WebSocket and front door (ws, gates)', /node_modules\/ws\/|\/server\/control\/(ws-front-door|connection-gate|source-limits|front-door-gates)\.js/],
  ['control plane (sessions, queues, apply)', /\/server\/control\//],
  ['hub status, admin, metrics', /\/server\/(hub|admin)\//],
];

/** Where the CPU of one window went. */
export interface PhaseSummary {
  name: string;
  wallMs: number;
  /** Sampled ms that were not idle. */
  busyMs: number;
  parts: [string, number][];
  top: [string, number][];
}

/** Cuts `[startUs, endUs]` out of a profile and sums it by part and by function (self time). */
export function summarisePhase(profile: CpuProfile, phase: ProfiledPhase, topN: number): PhaseSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const partOf = new Map<number, string>();
  const part = (id: number): string => {
    const known = partOf.get(id);
    if (known !== undefined) return known;
    const frame = byId.get(id)!.callFrame;
    let found: string | undefined;
    if (frame.functionName === '(garbage collector)') found = 'garbage collector';
    else if (frame.functionName === '(program)') found = 'V8 and native (program)';
    else found = PARTS.find(([, pattern]) => pattern.test(frame.url))?.[0];
    if (found === undefined) {
      const up = parent.get(id);
      found = up === undefined ? 'other (node internals, timers)' : part(up);
    }
    partOf.set(id, found);
    return found;
  };
  const parts = new Map<string, number>();
  const self = new Map<string, number>();
  let at = profile.startTime;
  let busyUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!;
    // The delta before a sample is the time it stands for.
    if (at < phase.startUs || at > phase.endUs) continue;
    const node = byId.get(profile.samples[i]!)!;
    if (node.callFrame.functionName === '(idle)') continue;
    const us = profile.timeDeltas[i]!;
    busyUs += us;
    const p = part(node.id);
    parts.set(p, (parts.get(p) ?? 0) + us);
    const frame = node.callFrame;
    const key = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + us);
  }
  const ms = (entries: Map<string, number>, n: number): [string, number][] =>
    [...entries].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => [k, Math.round(us / 1000)]);
  return { name: phase.name, wallMs: Math.round((phase.endUs - phase.startUs) / 1000), busyMs: Math.round(busyUs / 1000), parts: ms(parts, PARTS.length + 3), top: ms(self, topN) };
}

function shortUrl(url: string): string {
  const inModules = url.lastIndexOf('node_modules/');
  if (inModules >= 0) return url.slice(inModules + 'node_modules/'.length);
  const inDist = url.lastIndexOf('/dist/');
  return inDist >= 0 ? url.slice(inDist + '/dist/'.length) : url;
}

/** The profile file node wrote for process `pid` (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile). */
function profileOf(dir: string, pid: number): CpuProfile | undefined {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile') && name.split('.')[3] === String(pid));
  return file === undefined ? undefined : (JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
}

function main(argv: string[]): void {
  const dir = argv[0];
  const topAt = argv.indexOf('--top');
  const topN = topAt >= 0 ? Number(argv[topAt + 1]) : 12;
  if (dir === undefined || !Number.isInteger(topN) || topN < 1) {
    console.error('usage: swarm-cpu-profile DIR [--top N]');
    process.exitCode = 2;
    return;
  }
  const phases = JSON.parse(readFileSync(join(dir, 'phases.json'), 'utf8')) as ProfiledPhase[];
  for (const phase of phases) {
    const profile = profileOf(dir, phase.pid);
    if (!profile) {
      console.log(`${phase.name}: no profile of hub ${phase.pid} in ${dir}`);
      continue;
    }
    const summary = summarisePhase(profile, phase, topN);
    console.log(`${summary.name}: ${summary.wallMs} ms wall, hub busy ${summary.busyMs} ms (${Math.round((100 * summary.busyMs) / Math.max(1, summary.wallMs))} %)`);
    for (const [name, ms] of summary.parts) console.log(`  ${String(ms).padStart(6)} ms  ${name}`);
    console.log('  top self time:');
    for (const [name, ms] of summary.top) console.log(`  ${String(ms).padStart(6)} ms  ${name}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
