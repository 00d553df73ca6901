import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, execIn, execInAsync, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { startUp, statusIn, tunnelClientCli, type RunningUp } from '../helpers/tunnel-client-process.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping client-up-status: ${reason}`);

describe.skipIf(reason)('tunnel-client status across several running processes of one state folder', () => {
  let pair: PairTopology;
  let state: string;
  const running: RunningUp[] = [];

  beforeAll(() => {
    pair = createPairTopology();
    state = mkdtempSync(join(tmpdir(), 'tc-status-'));
  });

  afterAll(async () => {
    await Promise.all(running.map((up) => up.stop()));
    pair?.destroy();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  it('lists every tunnel of every `up` process, drops stale sockets, and says so when none runs', async () => {
    const empty = execIn(pair.a, process.execPath, [tunnelClientCli(), 'status', '--json', '--state', state]);
    expect(JSON.parse(empty)).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), tunnels: [] });
    expect(execIn(pair.a, process.execPath, [tunnelClientCli(), 'status', '--state', state])).toMatch(/no tunnels are running/);

    running.push(await startUp(pair.a, ['--local', pair.aAddress, '--remote', pair.bAddress, '--encap', 'gre', '--key', '1', '--address', '10.79.1.1/30', '--peer-address', '10.79.1.2', '--name', 'st-gre', '--state', state]));
    running.push(await startUp(pair.a, ['--local', pair.aAddress, '--remote', pair.bAddress, '--encap', 'fou', '--address', '10.79.2.1/30', '--peer-address', '10.79.2.2', '--name', 'st-fou', '--state', state]));

    // A process killed without cleanup leaves its socket file behind.
    const stale = join(state, 'run', '1.sock');
    const ghost = spawn(process.execPath, [testScript('unix-socket-listener'), stale], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((resolve) => ghost.stdout.once('data', resolve));
    ghost.kill('SIGKILL');
    await new Promise((resolve) => ghost.once('exit', resolve));
    expect(existsSync(stale)).toBe(true);

    const status = statusIn(pair.a, state);
    expect(status.tunnels.map((t) => t.name).sort()).toEqual(['st-fou', 'st-gre']);
    expect(new Set(status.tunnels.map((t) => t.pid)).size).toBe(2);
    for (const tunnel of status.tunnels) {
      expect(tunnel).toMatchObject({ state: expect.stringMatching(/^(up|down)$/), local: pair.aAddress, remote: pair.bAddress });
      expect(Object.keys(tunnel.rx).sort()).toEqual(['bytes', 'dropped', 'errors', 'packets']);
      expect(Object.keys(tunnel.tx).sort()).toEqual(['bytes', 'dropped', 'errors', 'packets']);
    }
    expect(existsSync(stale)).toBe(false);
    const table = execIn(pair.a, process.execPath, [tunnelClientCli(), 'status', '--state', state]);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+STATE\s+ENCAP\s+ESP\s+LOCAL\s+REMOTE\s+INNER\s+PEER\s+MTU/);
    expect(table).toMatch(/st-gre\s+\w+\s+gre\s+-\s+192\.0\.2\.1\s+192\.0\.2\.2\s+10\.79\.1\.1\/30\s+10\.79\.1\.2\s+1472/);
    expect(table).toMatch(/st-fou\s+\w+\s+fou\s+-\s+192\.0\.2\.1\s+192\.0\.2\.2\s+10\.79\.2\.1\/30\s+10\.79\.2\.2\s+1468/);

    // A second tunnel on the same interface name is refused with one coded line; the first keeps running.
    const dup = await execInAsync(pair.a, process.execPath, [tunnelClientCli(), 'up', '--local', pair.aAddress, '--remote', '192.0.2.7', '--encap', 'gre', '--address', '10.79.3.1/30', '--peer-address', '10.79.3.2', '--name', 'st-gre', '--state', state]);
    expect(dup.code).toBe(1);
    expect(dup.stderr.trim().split('\n')).toHaveLength(1);
    expect(dup.stderr).toMatch(/^tunnel-client: ERR_[A-Z_]+: /);
    expect(statusIn(pair.a, state).tunnels).toHaveLength(2);

    await Promise.all(running.splice(0).map((up) => up.stop()));
    await waitUntil(() => statusIn(pair.a, state).tunnels.length === 0, 10_000, 'the tunnels to be gone');
    expect(execIn(pair.a, 'ip', ['-o', 'link', 'show'])).not.toMatch(/st-gre|st-fou/);
  });
});
