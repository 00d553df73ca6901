/**
 * Simulated members for the control-plane and scale benchmarks: the state folder with its peers
 * and tokens, a hub with no datapath on loopback (`serve --datapath none`), and members speaking
 * the protocol over WebSocket that acknowledge every config at once. A member may connect from an
 * address of its own (`localAddress`), which it then reports as its endpoint: the hub sees the
 * address it is told, so the member counts as public and gets a GRE tunnel (bench/member-swarm.ts
 * runs thousands of them from 100.64.0.0/10 in a namespace).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { openHubState } from '../server/hub-state/hub-state.js';
import { initHubState } from '../server/hub-state/init-hub-state.js';
import { issuePeerCredential } from '../server/hub-state/issue-peer-credential.js';
import { readServeRuntime } from '../server/hub/serve-runtime-file.js';
import { PATH_LIVENESS } from '../shared/protocol/index.js';

/** The built `tunnel-hub`. */
export const HUB_CLI = new URL('../server/cli.js', import.meta.url).pathname;

const KEEPALIVE = JSON.stringify({ v: 1, type: 'keepalive' });

/** A config as a simulated member reads it. */
export interface SimulatedConfig {
  version: number;
  tunnels: { name: string; encap?: string; local?: string; routes?: string[] }[];
  /** In a cluster: the hub serving the session and every hub the member may move to. */
  cluster?: { hub: string; hubs: { name: string; url: string }[] };
}

/** One simulated member: every config it got, acknowledged the moment it arrived. */
export interface SimulatedMember {
  name: string;
  ws: WebSocket;
  /** The address it connects from and reports as its endpoint; null: the kernel picks, 127.0.0.1 is reported. */
  address: string | null;
  configs: SimulatedConfig[];
  /** When each config arrived (performance.now()), in the order of `configs`. */
  arrivals: number[];
  waiters: (() => void)[];
}

/** How a simulated member connects. */
export interface SimulatedMemberOptions {
  /** Bind the connection to this local address and report it as the member's endpoint. */
  localAddress?: string;
  /** Called with every config as it arrives (after its ack went out). */
  onConfig?: (config: SimulatedConfig) => void;
  /** Called for every keepalive the member answers. */
  onKeepalive?: () => void;
  /**
   * Offer path-proven liveness, as tunnel-client does on WebSocket: a hub with a datapath then
   * keeps the session on the hub tunnel's keepalives and sends few control keepalives. The
   * simulated member never ends a session for silence, so it holds up its side either way.
   */
  pathLiveness?: boolean;
}

/** A hub serving simulated members. */
export interface LoadHub {
  dir: string;
  url: string;
  hub: ChildProcess;
  /** The hub's stderr so far (warnings and errors only). */
  errors(): string;
  close(): Promise<void>;
}

/** A state folder for a hub at `endpoint` with `count` peers m0…m{count-1}, and a peer token for each. */
export async function prepareLoadState(count: number, pool: string, endpoint = '198.51.100.1'): Promise<{ dir: string; tokens: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-members-'));
  await initHubState(dir, { endpoint, pool });
  return { dir, tokens: await addLoadPeers(dir, count) };
}

/** Adds peers m0…m{count-1} to the hub state in `dir` and returns a peer token for each. */
export async function addLoadPeers(dir: string, count: number): Promise<string[]> {
  const tokens: string[] = [];
  const setup = await openHubState(dir);
  try {
    for (let i = 0; i < count; i++) {
      await setup.registry.peers.add({ name: `m${i}` });
      tokens.push(await issuePeerCredential(setup, { name: `m${i}`, ttlMs: 86_400_000 }));
    }
  } finally {
    await setup.close();
  }
  return tokens;
}

/** Starts `tunnel-hub serve --datapath none` on loopback for the state folder. */
export async function startLoadHub(dir: string): Promise<LoadHub> {
  const hub = spawn(process.execPath, [HUB_CLI, '--state', dir, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0', '--datapath', 'none', '--keepalive', '30', '--liveness-timeout', '120',
    // Every simulated member connects from 127.0.0.1: lift the per-address limits a real hub keeps.
    '--per-source-rate', '10000', '--per-source-max', '100000', '--no-admin'],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TUNNEL_LOG_LEVEL: 'warn' } });
  let errors = '';
  hub.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const close = async (): Promise<void> => {
    hub.kill('SIGTERM');
    await new Promise((resolve) => hub.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const runtime = await waitUntil(() => {
      const r = readServeRuntime(dir);
      return r?.pid === hub.pid ? r : undefined;
    }, 20_000, 'hub start');
    return { dir, url: `ws://127.0.0.1:${runtime.wsPort}`, hub, errors: () => errors, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Connects every member, `concurrency` at a time, and waits for each one's first config. */
export async function connectMembers(url: string, tokens: readonly string[], concurrency: number): Promise<SimulatedMember[]> {
  const members: SimulatedMember[] = [];
  for (let i = 0; i < tokens.length; i += concurrency) {
    members.push(...await Promise.all(tokens.slice(i, i + concurrency).map((token, j) => connectMember(url, `m${i + j}`, token))));
  }
  await Promise.all(members.map((member) => configWhere(member, () => true)));
  return members;
}

/**
 * One member over WebSocket with a peer token: hello, then an ack for every config and, as
 * tunnel-client does, a keepalive for every keepalive of the hub. Resolves once
 * the connection is open; rejects when it fails before that (refused at the hub's door).
 */
export function connectMember(url: string, name: string, token: string, options: SimulatedMemberOptions = {}): Promise<SimulatedMember> {
  return new Promise((resolve, reject) => {
    const address = options.localAddress ?? null;
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (options.pathLiveness === true) headers[PATH_LIVENESS.header] = PATH_LIVENESS.value;
    const ws = new WebSocket(url, { headers, ...(address === null ? {} : { localAddress: address }) });
    const member: SimulatedMember = { name, ws, address, configs: [], arrivals: [], waiters: [] };
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as SimulatedConfig & { type: string };
      if (message.type === 'keepalive') {
        ws.send(KEEPALIVE);
        options.onKeepalive?.();
      }
      if (message.type !== 'config') return;
      member.arrivals.push(performance.now());
      member.configs.push(message);
      ws.send(JSON.stringify({ v: 1, type: 'ack', version: message.version }));
      options.onConfig?.(message);
      for (const waiter of member.waiters.splice(0)) waiter();
    });
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', software: 'bench', endpoint: address ?? '127.0.0.1' }));
      resolve(member);
    });
  });
}

/** Resolves with the first config (already received or still to come) that satisfies `check`. */
export function configWhere(member: SimulatedMember, check: (config: SimulatedConfig) => boolean): Promise<SimulatedConfig> {
  const found = member.configs.find(check);
  if (found) return Promise.resolve(found);
  return new Promise((resolve) => {
    const wait = (): void => {
      const config = member.configs.find(check);
      if (config) resolve(config);
      else member.waiters.push(wait);
    };
    member.waiters.push(wait);
  });
}

/** Polls `check` every 20 ms until it returns something, or throws after `timeoutMs`. */
export async function waitUntil<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
