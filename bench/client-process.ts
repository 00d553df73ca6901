/**
 * Real members beside the simulated ones: `tunnel-client join` in a namespace of its own, its
 * inner address from `tunnel-client status --json`, and iperf3 between two of them through the
 * hub, for forwarding figures that carry real packets through the hub's datapath.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { SwarmClientHost } from './swarm-topology.js';
import { waitUntil } from './simulated-members.js';

/** The built `tunnel-client`. */
export const CLIENT_CLI = new URL('../client/cli.js', import.meta.url).pathname;

/** A `tunnel-client join` that keeps running. */
export interface ClientProcess {
  readonly host: SwarmClientHost;
  readonly stateDir: string;
  /** Its address on its hub link (no prefix length). */
  readonly inner: string;
  output(): string;
  stop(): Promise<void>;
}

/** Runs `command args…` in `namespace` to its end; rejects on a non-zero exit (with stderr, else the end of stdout, where iperf3 -J puts its error). */
export function runIn(namespace: string, command: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', namespace, command, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')} in ${namespace}: ${stderr.trim() || stdout.trim().slice(-500) || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Joins the hub at `url` with an invite from `host`'s namespace and waits until its hub tunnel is up. */
export async function startClientIn(host: SwarmClientHost, url: string, invite: string, workDir: string): Promise<ClientProcess> {
  const stateDir = join(workDir, `client-${host.name}`);
  const child: ChildProcess = spawn('ip', ['netns', 'exec', host.namespace, process.execPath, CLIENT_CLI, 'join', url, '--token', invite, '--name', host.name, '--state', stateDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: string): void => {
    output = (output + chunk).slice(-16_384);
  };
  child.stdout!.setEncoding('utf8').on('data', keep);
  child.stderr!.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntil(() => {
      if (child.exitCode !== null) throw new Error(`tunnel-client in ${host.namespace} exited: ${output}`);
      return /tnl-hub up/.test(output) ? true : undefined;
    }, 120_000, `${host.name}'s hub tunnel up`);
    const status = JSON.parse(await runIn(host.namespace, process.execPath, [CLIENT_CLI, 'status', '--json', '--state', stateDir])) as { tunnels: { name: string; inner: string | null }[] };
    const inner = status.tunnels.find((tunnel) => tunnel.name === 'tnl-hub')?.inner?.split('/')[0];
    if (inner === undefined) throw new Error(`${host.name} has no inner address: ${JSON.stringify(status)}`);
    return { host, stateDir, inner, output: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits until `from` reaches `to`'s inner address through the hub (ping). */
export async function awaitReachable(from: ClientProcess, to: ClientProcess, timeoutMs = 60_000): Promise<void> {
  await waitUntil(async () => {
    try {
      await runIn(from.host.namespace, 'ping', ['-c', '1', '-W', '1', to.inner], 5_000);
      return true;
    } catch {
      return undefined;
    }
  }, timeoutMs, `${from.host.name} -> ${to.host.name} (${to.inner}) through the hub`);
}

/** One TCP stream of iperf3 from `from` to `to`'s inner address for `seconds`: Gbit/s received. */
export async function iperfThroughHub(from: ClientProcess, to: ClientProcess, seconds: number): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', to.host.namespace, 'iperf3', '-s', '-1', '-B', to.inner], { stdio: 'ignore' });
  try {
    // The server is listening once a client can connect; iperf3 -c retries are not built in.
    let parsed: { end?: { sum_received?: { bits_per_second: number } }; error?: string } = {};
    await waitUntil(async () => {
      try {
        parsed = JSON.parse(await runIn(from.host.namespace, 'iperf3', ['-c', to.inner, '-t', String(seconds), '-J'], (seconds + 30) * 1000)) as typeof parsed;
      } catch (err) {
        if (/Connection refused/.test((err as Error).message)) return undefined;
        throw err;
      }
      // With -J, iperf3 may report the refusal in its JSON instead.
      return /Connection refused/.test(parsed.error ?? '') ? undefined : true;
    }, 10_000, 'the iperf3 server');
    const bitsPerSecond = parsed.end?.sum_received?.bits_per_second;
    if (bitsPerSecond === undefined) throw new Error(`iperf3 reported no transfer: ${parsed.error ?? 'no error given'}`);
    return bitsPerSecond / 1e9;
  } finally {
    server.kill('SIGKILL');
  }
}
