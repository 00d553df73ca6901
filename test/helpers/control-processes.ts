import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execInAsync, repoRoot, spawnIn } from './netns.js';
import { waitUntil } from './wait-until.js';

/** A hub or member CLI process running in a namespace, with its output captured. */
export interface CliProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM (or the given signal), then waits for the exit (SIGKILL after 10 s). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `node dist/<cli> ARGS` inside `namespace`; `env` adds variables (e.g. TUNNEL_FAST_PATH=off) to that process only. */
export function startCli(namespace: string, cli: 'server' | 'client', args: string[], env: Record<string, string> = {}): CliProcess {
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  const command = [process.execPath, join(repoRoot(), 'dist', cli, 'cli.js'), ...args];
  const child = assignments.length === 0 ? spawnIn(namespace, command[0]!, command.slice(1)) : spawnIn(namespace, 'env', [...assignments, ...command]);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs a CLI to completion inside `namespace`. */
export async function runCliIn(namespace: string, cli: 'server' | 'client', args: string[]): Promise<string> {
  const result = await execInAsync(namespace, process.execPath, [join(repoRoot(), 'dist', cli, 'cli.js'), ...args]);
  if (result.code !== 0) throw new Error(`${cli} ${args.join(' ')} exited ${String(result.code)}: ${result.stderr}`);
  return result.stdout;
}

/** The hub's serve.json once `serve` wrote it. */
export function serveRuntime(stateDir: string): { wsPort: number; sshPort: number; pid: number } | undefined {
  const path = join(stateDir, 'serve.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { wsPort: number; sshPort: number; pid: number }) : undefined;
}

/**
 * Starts `tunnel-hub --state STATE serve ARGS` inside `namespace` and waits until it listens (its
 * serve.json names this process, or it logged so); `env` as for startCli.
 */
export async function startServe(namespace: string, stateDir: string, args: string[], env: Record<string, string> = {}): Promise<CliProcess> {
  const hub = startCli(namespace, 'server', ['--state', stateDir, 'serve', ...args], env);
  await waitUntil(() => serveRuntime(stateDir)?.pid === hub.child.pid || /hub listening/.test(hub.output()), 20_000, () => `hub listening: ${hub.output()}`);
  return hub;
}

/**
 * Pings `target` from `namespace` every `intervalMs` for `seconds`, running `during` meanwhile,
 * and returns the longest gap between two consecutive replies (the outage), in ms.
 */
export async function longestReplyGap(namespace: string, target: string, seconds: number, during: () => Promise<void>, intervalMs = 20): Promise<{ gapMs: number; replies: number }> {
  const ping = execInAsync(namespace, 'ping', ['-D', '-n', '-i', String(intervalMs / 1000), '-W', '1', '-w', String(seconds), target], (seconds + 10) * 1000);
  await during();
  const { stdout } = await ping;
  const times = [...stdout.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
  let gapMs = 0;
  for (let i = 1; i < times.length; i++) gapMs = Math.max(gapMs, (times[i] ?? 0) - (times[i - 1] ?? 0));
  return { gapMs: Math.round(gapMs), replies: times.length };
}
