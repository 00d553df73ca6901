import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, execIn, execInAsync, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { setIn, startUp, statusIn, type RunningUp } from '../helpers/tunnel-client-process.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping client-up-roaming: ${reason}`);

const PINGS = 60;
const INTERVAL = '0.1';
// Replies are lost between B's `set --local` and A's `set --remote`: one CLI start each, 0.5-1.5 s
// on a loaded 2-core machine (5-15 pings). The bound is the point: loss stops once both are told.
const MAX_LOST = 25;

describe.skipIf(reason)('roaming: one end moves to a new outer address mid-stream, live', () => {
  let pair: PairTopology;
  let stateA: string;
  let stateB: string;

  beforeAll(() => {
    pair = createPairTopology();
    stateA = mkdtempSync(join(tmpdir(), 'tc-roam-a-'));
    stateB = mkdtempSync(join(tmpdir(), 'tc-roam-b-'));
  });

  afterAll(() => {
    pair?.destroy();
    for (const dir of [stateA, stateB]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    { encap: 'gre', net: 1, newB: '192.0.2.3' },
    { encap: 'fou', net: 2, newB: '192.0.2.4' },
  ])('$encap: B moves to $newB; ping loss stays bounded and the same interface carries on', async ({ encap, net, newB }) => {
    const name = `roam-${encap}`;
    const innerA = `10.78.${net}.1`;
    const innerB = `10.78.${net}.2`;
    const oldB = execIn(pair.b, 'ip', ['-4', '-o', 'addr', 'show', 'dev', pair.bInterface]).match(/inet (192\.0\.2\.\d+)/)![1]!;
    let upA: RunningUp | undefined;
    let upB: RunningUp | undefined;
    try {
      upA = await startUp(pair.a, ['--local', pair.aAddress, '--remote', oldB, '--encap', encap, '--address', `${innerA}/30`, '--peer-address', innerB, '--name', name, '--keepalive', '1', '--state', stateA]);
      upB = await startUp(pair.b, ['--local', oldB, '--remote', pair.aAddress, '--encap', encap, '--address', `${innerB}/30`, '--peer-address', innerA, '--name', name, '--keepalive', '1', '--state', stateB]);
      // Without promotion, deleting the old primary address would take the new secondary one with it.
      execIn(pair.b, 'sysctl', ['-qw', `net.ipv4.conf.${pair.bInterface}.promote_secondaries=1`]);
      const ifindexBefore = execIn(pair.b, 'cat', [`/sys/class/net/${name}/ifindex`]).trim();
      const ping = execInAsync(pair.a, 'ping', ['-c', String(PINGS), '-i', INTERVAL, '-W', '1', innerB], 60_000);
      await waitUntil(() => statusIn(pair.a, stateA).tunnels[0]!.rx.packets >= 10, 10_000, 'pings to flow');

      // B's address changes (a new DHCP lease): the new one appears, both ends are told, the old one goes.
      execIn(pair.b, 'ip', ['addr', 'add', `${newB}/24`, 'dev', pair.bInterface]);
      setIn(pair.b, stateB, name, ['--local', newB]);
      setIn(pair.a, stateA, name, ['--remote', newB]);
      execIn(pair.b, 'ip', ['addr', 'del', `${oldB}/24`, 'dev', pair.bInterface]);

      const result = await ping;
      const received = Number(/(\d+) received/.exec(result.stdout)?.[1] ?? 0);
      console.info(`roaming ${encap}: ${PINGS - received} of ${PINGS} pings lost while moving`);
      expect(PINGS - received).toBeLessThanOrEqual(MAX_LOST);
      const [a] = statusIn(pair.a, stateA).tunnels;
      const [b] = statusIn(pair.b, stateB).tunnels;
      expect(a).toMatchObject({ name, remote: newB, state: 'up' });
      expect(b).toMatchObject({ name, local: newB, state: 'up' });
      // The interface was never recreated.
      expect(execIn(pair.b, 'cat', [`/sys/class/net/${name}/ifindex`]).trim()).toBe(ifindexBefore);
      const after = await execInAsync(pair.a, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', innerB]);
      expect(after.stdout).toMatch(/3 received/);
    } finally {
      await Promise.all([upA?.stop(), upB?.stop()]);
    }
  });

  it('refuses a bad live change with a coded error and leaves the tunnel running unchanged', async () => {
    const up = await startUp(pair.a, ['--local', pair.aAddress, '--remote', '192.0.2.9', '--encap', 'gre', '--address', '10.78.9.1/30', '--peer-address', '10.78.9.2', '--name', 'roam-bad', '--state', stateA]);
    try {
      const before = statusIn(pair.a, stateA).tunnels[0]!;
      for (const [args, code] of [
        [['--remote', '300.1.1.1'], 'ERR_INVALID_ADDRESS'],
        [['--encap', 'vxlan'], 'ERR_INVALID_ARGUMENT'],
        [['--port', '4754'], 'ERR_INVALID_ARGUMENT'],
        [['--key', 'x'], 'ERR_INVALID_ARGUMENT'],
      ] as const) {
        expect(() => setIn(pair.a, stateA, 'roam-bad', [...args]), args.join(' ')).toThrow(new RegExp(`tunnel-client: ${code}: `));
      }
      expect(() => setIn(pair.a, stateA, 'nosuch', ['--remote', '192.0.2.8'])).toThrow(/ERR_TUNNEL_NOT_FOUND/);
      const after = statusIn(pair.a, stateA).tunnels[0]!;
      // Everything but the traffic: the kernel may send a packet of its own (IPv6 solicitations) meanwhile.
      const traffic = { liveness: undefined, rx: undefined, tx: undefined, dropsByReason: undefined, fastPath: undefined, queues: undefined };
      expect({ ...after, ...traffic }).toEqual({ ...before, ...traffic });
    } finally {
      expect(await up.stop()).toBe(0);
    }
  });
});
