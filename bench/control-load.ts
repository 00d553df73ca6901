/**
 * bench:control (b): 1,000 simulated members against one hub process with no datapath
 * (`serve --datapath none`), all over WebSocket with peer tokens. Phase 1: every member joins
 * (hello, config, ack). Phase 2: every member reports a new endpoint at once; measured until the
 * registry has recorded every member's ack of its new config. Prints the hub's peak RSS.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { openHubState } from '../server/hub-state/hub-state.js';
import { initHubState } from '../server/hub-state/init-hub-state.js';
import { issuePeerCredential } from '../server/hub-state/issue-peer-credential.js';
import { readServeRuntime } from '../server/hub/serve-runtime-file.js';
import { pollUntil } from './poll-until.js';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const CONNECT_CONCURRENCY = 100;
const PHASE_TIMEOUT_MS = 120_000;

interface Member {
  name: string;
  ws: WebSocket;
  configs: number[];
  waiters: ((version: number) => void)[];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-control-'));
  const hubCli = new URL('../server/cli.js', import.meta.url).pathname;
  await initHubState(dir, { endpoint: '198.51.100.1', pool: '10.64.0.0/16' });
  const tokens: string[] = [];
  const setup = await openHubState(dir);
  try {
    for (let i = 0; i < MEMBERS; i++) {
      await setup.registry.peers.add({ name: `m${i}` });
      tokens.push(await issuePeerCredential(setup, { name: `m${i}`, ttlMs: 3_600_000 }));
    }
  } finally {
    await setup.close();
  }

  const hub = spawn(process.execPath, [hubCli, '--state', dir, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0', '--datapath', 'none', '--keepalive', '30', '--liveness-timeout', '120',
    // Every simulated member connects from 127.0.0.1: lift the per-address limits a real hub keeps.
    '--per-source-rate', '10000', '--per-source-max', '100000', '--no-admin'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TUNNEL_LOG_LEVEL: 'warn' } });
  let hubErr = '';
  hub.stderr.on('data', (chunk: Buffer) => (hubErr += chunk.toString()));
  const members: Member[] = [];
  try {
    const runtime = await pollUntil(() => {
      const r = readServeRuntime(dir);
      return r?.pid === hub.pid ? r : undefined;
    }, 20_000, 'hub start');
    const url = `ws://127.0.0.1:${runtime.wsPort}`;

    const joinStart = performance.now();
    for (let i = 0; i < MEMBERS; i += CONNECT_CONCURRENCY) {
      const batch = await Promise.all(tokens.slice(i, i + CONNECT_CONCURRENCY).map((token, j) => connect(url, `m${i + j}`, token)));
      members.push(...batch);
    }
    await Promise.all(members.map((member) => nextConfig(member, 1)));
    const joinMs = performance.now() - joinStart;

    const registry = (await openHubState(dir)).registry;
    const acked = async (version: number): Promise<number> => {
      let count = 0;
      for (const m of members) {
        const link = await registry.links.hubLinkOf(m.name);
        if (((await registry.specs.versions(m.name, link.id))?.peer.acked ?? 0) >= version) count += 1;
      }
      return count;
    };
    await pollUntil(async () => (await acked(1)) === MEMBERS || undefined, PHASE_TIMEOUT_MS, 'join acks');

    const reportStart = performance.now();
    members.forEach((member, i) => member.ws.send(JSON.stringify({ v: 1, type: 'report', endpoint: { address: `192.0.2.${(i % 254) + 1}` } })));
    await Promise.all(members.map((member) => nextConfig(member, 2)));
    const configsMs = performance.now() - reportStart;
    await pollUntil(async () => (await acked(2)) === MEMBERS || undefined, PHASE_TIMEOUT_MS, 'report acks');
    const acksMs = performance.now() - reportStart;
    const peakRssKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${hub.pid}/status`, 'utf8'))?.[1] ?? NaN);
    await registry.close();

    console.log(`control load: ${MEMBERS} members over WebSocket (peer tokens), hub with no datapath`);
    console.log(`  join (connect, hello, config, ack), ${CONNECT_CONCURRENCY} at a time: ${Math.round(joinMs)} ms`);
    console.log(`  all report a new endpoint at once: every new config received after ${Math.round(configsMs)} ms, every ack recorded in the registry after ${Math.round(acksMs)} ms`);
    console.log(`  hub peak RSS (VmHWM): ${(peakRssKiB / 1024).toFixed(1)} MiB`);
  } catch (err) {
    console.error(hubErr.split('\n').slice(-5).join('\n'));
    throw err;
  } finally {
    for (const member of members) member.ws.terminate();
    hub.kill('SIGTERM');
    await new Promise((resolve) => hub.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

function connect(url: string, name: string, token: string): Promise<Member> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    const member: Member = { name, ws, configs: [], waiters: [] };
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; version?: number };
      if (message.type !== 'config' || message.version === undefined) return;
      member.configs.push(message.version);
      ws.send(JSON.stringify({ v: 1, type: 'ack', version: message.version }));
      for (const waiter of member.waiters.splice(0)) waiter(message.version);
    });
    ws.on('open', () => {
      ws.send(JSON.stringify({ v: 1, type: 'hello', software: 'bench', endpoint: '127.0.0.1' }));
      resolve(member);
    });
  });
}

function nextConfig(member: Member, version: number): Promise<void> {
  if (member.configs.includes(version)) return Promise.resolve();
  return new Promise((resolve) => {
    const check = (got: number): void => {
      if (got >= version) resolve();
      else member.waiters.push(check);
    };
    member.waiters.push(check);
  });
}

await main();
