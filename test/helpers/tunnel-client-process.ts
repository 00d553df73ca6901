import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { execIn, repoRoot, spawnIn } from './netns.js';
import { waitUntil } from './wait-until.js';

/** The built `tunnel-client` entry point. */
export function tunnelClientCli(): string {
  return join(repoRoot(), 'dist', 'client', 'cli.js');
}

/** One end of a point-to-point `tunnel-client up`: its outer and inner addresses, /30 inside. */
export interface UpEnd {
  local: string;
  remote: string;
  encap: string;
  inner: string;
  peer: string;
  name: string;
  state: string;
  key?: number | undefined;
}

/** The `tunnel-client up` arguments for one end, with a 1 s keepalive. */
export function upArgs(end: UpEnd): string[] {
  return [
    '--local', end.local, '--remote', end.remote, '--encap', end.encap, '--address', `${end.inner}/30`, '--peer-address', end.peer,
    '--name', end.name, '--keepalive', '1', '--state', end.state, ...(end.key === undefined ? [] : ['--key', String(end.key)]),
  ];
}

/** A `tunnel-client up` running in a namespace. */
export interface RunningUp {
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then waits for the exit code (SIGKILL after 10 s). */
  stop(): Promise<number | null>;
}

/**
 * Starts `tunnel-client up ARGS` inside `namespace` and resolves once it prints its "up:" line.
 * `env` adds environment variables (e.g. TUNNEL_FAST_PATH=off) to that process only.
 */
export async function startUp(namespace: string, args: string[], timeoutMs = 20_000, env: Record<string, string> = {}): Promise<RunningUp> {
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  const child = assignments.length === 0
    ? spawnIn(namespace, process.execPath, [tunnelClientCli(), 'up', ...args])
    : spawnIn(namespace, 'env', [...assignments, process.execPath, tunnelClientCli(), 'up', ...args]);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const running: RunningUp = {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  try {
    await waitUntil(() => {
      if (child.exitCode !== null) throw new Error(`it exited with ${child.exitCode}`);
      return / up: /.test(output);
    }, timeoutMs, 'its "up:" line');
  } catch (err) {
    await running.stop();
    throw new Error(`tunnel-client up did not come up in ${namespace} (${(err as Error).message}): ${output}`);
  }
  return running;
}

/** `tunnel-client status --json` inside `namespace`, parsed. */
export function statusIn(namespace: string, stateDir: string): { tunnels: Record<string, any>[] } {
  return JSON.parse(execIn(namespace, process.execPath, [tunnelClientCli(), 'status', '--json', '--state', stateDir])) as { tunnels: Record<string, any>[] };
}

/** `tunnel-client set NAME ARGS` inside `namespace`. */
export function setIn(namespace: string, stateDir: string, name: string, args: string[]): string {
  return execIn(namespace, process.execPath, [tunnelClientCli(), 'set', name, ...args, '--state', stateDir]);
}
