import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, execIn, execInAsync, runNodeIn, startNodeIn, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { startUp, statusIn, tunnelClientCli, type RunningUp, upArgs } from '../helpers/tunnel-client-process.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping tun-queues: ${reason}`);

/** Parallel TCP transfers per round: their flows are spread over the TUN's queues by hash. */
const FLOWS = 4;
const FLOW_BYTES = 12 * 1024 * 1024;
/** Rounds at most until both queues have carried packets (all flows of a round on one queue: 1 in 8). */
const MAX_ROUNDS = 3;

interface Case {
  encap: 'gre' | 'fou';
  offload: 'on' | 'off';
  net: number;
}

const CASES: Case[] = [
  { encap: 'gre', offload: 'on', net: 1 },
  { encap: 'fou', offload: 'on', net: 2 },
  { encap: 'gre', offload: 'off', net: 3 },
];

describe.skipIf(reason)('multi-queue TUN (TUNNEL_QUEUES=2: a forwarding thread per queue)', () => {
  let pair: PairTopology;
  let stateA: string;
  let stateB: string;

  beforeAll(() => {
    pair = createPairTopology();
    stateA = mkdtempSync(join(tmpdir(), 'tc-mq-a-'));
    stateB = mkdtempSync(join(tmpdir(), 'tc-mq-b-'));
  });

  afterAll(() => {
    pair?.destroy();
    for (const dir of [stateA, stateB]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(CASES)('$encap, offloads $offload', (c) => {
    const name = `tnl-mq${c.net}`;
    const innerB = `10.77.${c.net}.2`;
    let upA: RunningUp | undefined;
    let upB: RunningUp | undefined;

    const args = (local: string, remote: string, inner: string, peer: string, state: string) =>
      upArgs({ local, remote, encap: c.encap, inner, peer, name, state });

    beforeAll(async () => {
      const env = { TUNNEL_QUEUES: '2', TUNNEL_OFFLOAD: c.offload };
      upA = await startUp(pair.a, args(pair.aAddress, pair.bAddress, `10.77.${c.net}.1`, innerB, stateA), 20_000, env);
      upB = await startUp(pair.b, args(pair.bAddress, pair.aAddress, innerB, `10.77.${c.net}.1`, stateB), 20_000, env);
    });

    afterAll(async () => {
      expect(await Promise.all([upA?.stop(), upB?.stop()])).toEqual([0, 0]);
    });

    it(`carries ${FLOWS} parallel TCP transfers with matching sha256, over both queues`, async () => {
      let queues: number[] = [];
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const ports = Array.from({ length: FLOWS }, (_, i) => String(5400 + c.net * 10 + i));
        const receivers = ports.map((port) => startNodeIn(pair.b, testScript('tcp-hash-receiver'), [innerB, port], 120_000));
        await Promise.all(receivers.map((receiver) => receiver.ready));
        const sent = await Promise.all(ports.map((port) => runNodeIn(pair.a, testScript('tcp-hash-sender'), [innerB, port, String(FLOW_BYTES)], 120_000)));
        const received = await Promise.all(receivers.map((receiver) => receiver.result));
        for (let i = 0; i < FLOWS; i++) {
          expect((sent[i] as { bytes: number }).bytes).toBe(FLOW_BYTES);
          expect(received[i]).toEqual(sent[i]);
        }
        queues = statusIn(pair.a, stateA).tunnels[0]!['queues'] as number[];
        if (queues.every((packets) => packets > 0)) break;
      }
      // The sender's TUN has two queues, and each one's forwarding thread read packets.
      expect(queues).toHaveLength(2);
      expect(queues[0]).toBeGreaterThan(0);
      expect(queues[1]).toBeGreaterThan(0);
      const sender = statusIn(pair.a, stateA).tunnels[0]!;
      const receiver = statusIn(pair.b, stateB).tunnels[0]!;
      expect(receiver['queues']).toHaveLength(2);
      expect(sender['fastPath'].txPackets).toBeGreaterThan(0);
      expect(sender['rx'].errors + sender['tx'].errors + receiver['rx'].errors + receiver['tx'].errors).toBe(0);
      if (c.offload === 'off') {
        expect(sender['offload']).toBeNull();
        expect(receiver['offload']).toBeNull();
      } else {
        expect(sender['offload'].superPackets).toBeGreaterThan(0);
      }
    });
  });

  it('removing a tunnel with two queues leaks no descriptors, threads or devices', async () => {
    const result = await runNodeIn(pair.a, testScript('engine-queue-cycles'), [pair.aAddress, pair.bAddress, '50'], 60_000) as {
      queues: number[]; running: string[]; before: { fds: number; tasks: number }; openFds: number;
      after: { fds: number; tasks: number }; forwardersAfter: string[]; leftover: boolean;
    };
    expect(result.queues).toHaveLength(2);
    expect(result.running).toEqual(['tc-forward-0', 'tc-forward-1']);
    // Two queue descriptors and the raw GRE socket while it runs.
    expect(result.openFds).toBeGreaterThanOrEqual(result.before.fds + 3);
    expect(result.after).toEqual(result.before);
    expect(result.forwardersAfter).toEqual(['tc-forward-0', 'tc-forward-1']);
    expect(result.leftover).toBe(false);
  });

  it.each(['0', '9', 'two'])('tunnel-client up refuses TUNNEL_QUEUES=%s with a coded error and creates nothing', async (value) => {
    const result = await execInAsync(pair.a, 'env', [`TUNNEL_QUEUES=${value}`, process.execPath, tunnelClientCli(), 'up',
      '--local', pair.aAddress, '--remote', pair.bAddress, '--encap', 'gre', '--address', '10.77.9.1/30', '--peer-address', '10.77.9.2',
      '--name', 'tnl-mqbad', '--state', stateA], 20_000);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/ERR_INVALID_CONFIG.*TUNNEL_QUEUES/);
    expect(execIn(pair.a, 'ip', ['-o', 'link', 'show'])).not.toContain('tnl-mqbad');
  });
});
