/**
 * `tunnel-hub serve` as a benchmark runs it: in a namespace of its own (`ip netns exec`, which execs
 * into node, so the process id is the hub's), at its default log level with the log in a file (a
 * pipe the driver reads late would hold the hub up), started once serve.json names it, stopped with
 * SIGTERM and timed. The log tells which tunnels the hub has seen go up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { readServeRuntime, type ServeRuntime } from '../server/hub/serve-runtime-file.js';
import { HUB_CLI, waitUntil } from './simulated-members.js';

/** Which datapath the hub runs: its real engine (TUN devices) or none (`serve --datapath none`). */
export type BenchDatapath = 'engine' | 'none';

/** How to start the hub. */
export interface HubProcessOptions {
  namespace: string;
  stateDir: string;
  datapath: BenchDatapath;
  /** `--listen`. */
  listen: string;
  /** More `serve` flags. */
  args?: readonly string[];
  /** Flags for node itself, before the CLI (e.g. `--cpu-prof`). */
  nodeArgs?: readonly string[];
  /** Where its log goes (appended). */
  logFile: string;
  /** How long it may take to write serve.json. */
  startTimeoutMs?: number;
}

/** A running hub. */
export interface HubProcess {
  readonly pid: number;
  readonly datapath: BenchDatapath;
  readonly runtime: ServeRuntime;
  /** True once it has exited. */
  exited(): boolean;
  /** SIGTERM, then resolves with the ms until it exited (SIGKILL after `killAfterMs`). */
  stop(killAfterMs?: number): Promise<number>;
  /** Tunnels whose last liveness line in the log says up. */
  tunnelsUp(): number;
  /** The last warnings and errors of its log. */
  errors(): string;
}

/** Starts `tunnel-hub --state DIR serve --listen ADDR --datapath D …` in a namespace and waits until it listens. */
export async function startHubIn(options: HubProcessOptions): Promise<HubProcess> {
  const log = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn('ip', ['netns', 'exec', options.namespace, process.execPath, ...(options.nodeArgs ?? []), HUB_CLI, '--state', options.stateDir, 'serve',
      '--listen', options.listen, '--datapath', options.datapath, ...(options.args ?? [])], { stdio: ['ignore', 'ignore', log] });
  } finally {
    closeSync(log);
  }
  const pid = child.pid!;
  let exitedAt: number | undefined;
  // A benchmark that exits (an error, Ctrl-C) takes its hub with it: its namespace is deleted then.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exitedAt = performance.now();
    process.off('exit', killOnExit);
    resolve();
  }));
  const watch = new HubLogWatch(options.logFile);
  const stop = async (killAfterMs = 300_000): Promise<number> => {
    const started = performance.now();
    if (exitedAt === undefined) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await exit;
    clearTimeout(timer);
    return Math.max(0, (exitedAt ?? started) - started);
  };
  let runtime: ServeRuntime;
  try {
    runtime = await waitUntil(() => {
      if (exitedAt !== undefined) throw new Error(`the hub exited at start: ${watch.problems()}`);
      const found = readServeRuntime(options.stateDir);
      return found?.pid === pid ? found : undefined;
    }, options.startTimeoutMs ?? 60_000, 'the hub to listen');
  } catch (err) {
    await stop(5_000);
    throw err;
  }
  return {
    pid,
    datapath: options.datapath,
    runtime,
    exited: () => exitedAt !== undefined,
    stop,
    tunnelsUp: () => watch.tunnelsUp(),
    errors: () => watch.problems(),
  };
}

/** Reads a hub's JSON log as it grows: each tunnel's last liveness, and its warnings and errors. */
class HubLogWatch {
  private offset = 0;
  private partial = '';
  private readonly liveness = new Map<string, string>();
  private readonly lastProblems: string[] = [];

  constructor(private readonly file: string) {}

  tunnelsUp(): number {
    this.read();
    let up = 0;
    for (const state of this.liveness.values()) if (state === 'up') up++;
    return up;
  }

  problems(): string {
    this.read();
    return this.lastProblems.join('\n');
  }

  private read(): void {
    const fd = openSync(this.file, 'r');
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (let n = readSync(fd, chunk, 0, chunk.length, this.offset); n > 0; n = readSync(fd, chunk, 0, chunk.length, this.offset)) {
        this.offset += n;
        const lines = (this.partial + chunk.toString('utf8', 0, n)).split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) this.take(line);
      }
    } finally {
      closeSync(fd);
    }
  }

  private take(line: string): void {
    if (line.includes('"tunnel liveness changed"')) {
      const entry = JSON.parse(line) as { tunnel?: string; state?: string };
      if (entry.tunnel !== undefined && entry.state !== undefined) this.liveness.set(entry.tunnel, entry.state);
      return;
    }
    // pino levels: 40 warn, 50 error, 60 fatal.
    if (/"level":(4|5|6)0,/.test(line)) {
      this.lastProblems.push(line.slice(0, 400));
      if (this.lastProblems.length > 5) this.lastProblems.shift();
    }
  }
}
