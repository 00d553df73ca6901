import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TunnelStatus } from '../../shared/datapath/datapath-engine.js';
import { LinkHooks } from '../../shared/hooks/link-hooks.js';
import { checkHookFile, runHook } from '../../shared/hooks/run-hook.js';
import { waitUntil } from '../helpers/wait-until.js';

/** A logger whose lines the test reads. */
function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

/** True while process `pid` exists and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function status(overrides: Partial<TunnelStatus>): TunnelStatus {
  return {
    name: 'tnl-c1', state: 'down', encap: 'gre', local: '198.51.100.1', remote: '203.0.113.10', inner: '10.1.12.1/30', peerInner: '10.1.12.2',
    mtu: 1472, ...overrides,
  } as TunnelStatus;
}

describe('link hooks: up, change and down with the TUNNEL_* environment, never waited for', () => {
  let dir: string;
  let record: string;
  let recorder: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tunnel-hooks-'));
    record = join(dir, 'events');
    recorder = join(dir, 'record.sh');
    writeFileSync(recorder, `#!/bin/sh\nenv | grep '^TUNNEL_' | sort | tr '\\n' ' ' >> ${record}\necho >> ${record}\n`);
    chmodSync(recorder, 0o755);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const events = (): Record<string, string>[] => (existsSync(record) ? readFileSync(record, 'utf8') : '').trim().split('\n').filter(Boolean)
    .map((line) => Object.fromEntries(line.trim().split(' ').map((pair) => pair.split('=') as [string, string])));

  it('runs the hook once per up, change while up, and down, in order, with the tunnel\'s facts', async () => {
    const { log } = capturingLogger();
    const hooks = new LinkHooks(recorder, log);
    hooks.observe(status({}), 'c1'); // created, still down: nothing to say
    hooks.observe(status({ state: 'up' }), 'c1');
    hooks.observe(status({ state: 'up' }), 'c1'); // nothing changed
    hooks.observe(status({ state: 'up', remote: '203.0.113.11' }), 'c1');
    hooks.removed('tnl-c1');
    await waitUntil(() => events().length === 3, 5_000, () => `three hook runs: ${JSON.stringify(events())}`);
    expect(events()).toEqual([
      { TUNNEL_ENCAP: 'gre', TUNNEL_EVENT: 'up', TUNNEL_IFACE: 'tnl-c1', TUNNEL_INNER: '10.1.12.1/30', TUNNEL_LOCAL: '198.51.100.1', TUNNEL_MTU: '1472', TUNNEL_PEER: 'c1', TUNNEL_PEER_INNER: '10.1.12.2', TUNNEL_REMOTE: '203.0.113.10' },
      expect.objectContaining({ TUNNEL_EVENT: 'change', TUNNEL_REMOTE: '203.0.113.11' }),
      expect.objectContaining({ TUNNEL_EVENT: 'down', TUNNEL_REMOTE: '203.0.113.11' }),
    ]);
  });

  it('logs a failing hook and keeps running the next ones', async () => {
    const failing = join(dir, 'fail.sh');
    writeFileSync(failing, '#!/bin/sh\necho "no vtysh here" >&2\nexit 3\n');
    chmodSync(failing, 0o755);
    const { log, lines } = capturingLogger();
    const outcome = await runHook(failing, { TUNNEL_EVENT: 'up', TUNNEL_IFACE: 'tnl-c1' }, log);
    expect(outcome).toEqual({ kind: 'failed', exitCode: 3, signal: null });
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'hook failed', exitCode: 3, stderr: 'no vtysh here', event: 'up', tunnel: 'tnl-c1' }));
  });

  it('kills a hanging hook (and what it started) at the time limit, and observe() never waits', async () => {
    const hanging = join(dir, 'hang.sh');
    const marker = join(dir, 'hang-survived');
    const started = join(dir, 'hang-started');
    writeFileSync(hanging, `#!/bin/sh\n(sleep 2; touch ${marker}) &\necho $! >> ${started}\nsleep 60\n`);
    chmodSync(hanging, 0o755);
    const { log, lines } = capturingLogger();
    const hooks = new LinkHooks(hanging, log, 300);
    const start = performance.now();
    hooks.observe(status({ state: 'up' }), 'c1');
    hooks.observe(status({ state: 'down' }), 'c1');
    expect(performance.now() - start).toBeLessThan(50);
    await waitUntil(() => lines.filter((l) => l.msg === 'hook killed after 300 ms').length === 2, 5_000, 'both hooks killed');
    expect(lines.filter((l) => l.msg === 'hook killed after 300 ms').map((l) => l.event)).toEqual(['up', 'down']);
    // What each hook started in the background is gone too: killed, or (were it not) done after touching the marker.
    const backgrounds = (): number[] => (existsSync(started) ? readFileSync(started, 'utf8').trim().split('\n').map(Number) : []);
    await waitUntil(() => backgrounds().length === 2 && !backgrounds().some(isRunning), 5_000, 'the hooks\' background processes to end');
    expect(existsSync(marker)).toBe(false);
  });

  it('logs a hook that cannot start, and refuses a --hook that is not an executable file', async () => {
    const { log, lines } = capturingLogger();
    expect(await runHook(join(dir, 'missing.sh'), { TUNNEL_EVENT: 'up' }, log)).toMatchObject({ kind: 'error' });
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'hook failed', kind: 'error' }));
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'not a program');
    expect(() => checkHookFile(plain)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => checkHookFile(dir)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(checkHookFile(recorder)).toBe(recorder);
  });
});
