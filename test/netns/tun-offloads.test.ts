import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, execIn, runNodeIn, startNodeIn, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { startUp, statusIn, type RunningUp, upArgs } from '../helpers/tunnel-client-process.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping tun-offloads: ${reason}`);

const TRANSFER_BYTES = 50 * 1024 * 1024;

interface Case {
  encap: 'gre' | 'fou';
  offload: 'on' | 'off';
  net: number;
  /** Both ends' TCP runs over IPv6 inside the tunnel (TSO6) instead of IPv4 (TSO4). */
  inner6: boolean;
  /** Every packet through the JS engine (TUNNEL_FAST_PATH=off): its reads and writes offload too. */
  jsPath?: boolean;
}

const CASES: Case[] = [
  { encap: 'gre', offload: 'on', net: 1, inner6: false },
  { encap: 'gre', offload: 'off', net: 2, inner6: false },
  { encap: 'fou', offload: 'on', net: 3, inner6: false },
  { encap: 'fou', offload: 'off', net: 4, inner6: false },
  { encap: 'gre', offload: 'on', net: 5, inner6: true },
  { encap: 'fou', offload: 'on', net: 6, inner6: false, jsPath: true },
];

describe.skipIf(reason)('TUN offloads (TSO/checksum on the TUN, segments merged on receive)', () => {
  let pair: PairTopology;
  let stateA: string;
  let stateB: string;

  beforeAll(() => {
    pair = createPairTopology();
    stateA = mkdtempSync(join(tmpdir(), 'tc-off-a-'));
    stateB = mkdtempSync(join(tmpdir(), 'tc-off-b-'));
  });

  afterAll(() => {
    pair?.destroy();
    for (const dir of [stateA, stateB]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(CASES)('$encap, offloads $offload, inner IPv6 $inner6, JS path $jsPath', (c) => {
    const name = `tnl-off${c.net}`;
    const innerA = c.inner6 ? `fd00:78:${c.net}::1` : `10.78.${c.net}.1`;
    const innerB = c.inner6 ? `fd00:78:${c.net}::2` : `10.78.${c.net}.2`;
    let upA: RunningUp | undefined;
    let upB: RunningUp | undefined;

    const args = (local: string, remote: string, inner: string, peer: string, state: string) =>
      upArgs({ local, remote, encap: c.encap, inner, peer, name, state });

    beforeAll(async () => {
      const env = { TUNNEL_OFFLOAD: c.offload, ...(c.jsPath === true ? { TUNNEL_FAST_PATH: 'off' } : {}) };
      upA = await startUp(pair.a, args(pair.aAddress, pair.bAddress, `10.78.${c.net}.1`, `10.78.${c.net}.2`, stateA), 20_000, env);
      upB = await startUp(pair.b, args(pair.bAddress, pair.aAddress, `10.78.${c.net}.2`, `10.78.${c.net}.1`, stateB), 20_000, env);
      if (c.inner6) {
        for (const [ns, address] of [[pair.a, innerA], [pair.b, innerB]] as const) {
          execIn(ns, 'ip', ['-6', 'addr', 'add', `${address}/64`, 'dev', name, 'nodad']);
        }
      }
    });

    afterAll(async () => {
      expect(await Promise.all([upA?.stop(), upB?.stop()])).toEqual([0, 0]);
    });

    it('carries a 50 MB TCP transfer with matching sha256', async () => {
      const receiver = startNodeIn(pair.b, testScript('tcp-hash-receiver'), [innerB, '5301'], 120_000);
      await receiver.ready;
      const sent = await runNodeIn(pair.a, testScript('tcp-hash-sender'), [innerB, '5301', String(TRANSFER_BYTES)], 120_000) as { bytes: number; sha256: string };
      const received = await receiver.result as { bytes: number; sha256: string };
      expect(sent.bytes).toBe(TRANSFER_BYTES);
      expect(received).toEqual(sent);
    });

    it(c.offload === 'on' ? 'read TCP super-packets and merged received segments' : 'ran without offloads', () => {
      const sender = statusIn(pair.a, stateA).tunnels[0]!;
      const receiver = statusIn(pair.b, stateB).tunnels[0]!;
      if (c.offload === 'off') {
        expect(sender.offload).toBeNull();
        expect(receiver.offload).toBeNull();
        return;
      }
      // The sender's kernel handed over bursts larger than one packet, each split into several
      // segments; the receiver wrote runs of segments as single super-packets.
      expect(sender.offload.superPackets).toBeGreaterThan(0);
      expect(sender.offload.segments).toBeGreaterThan(sender.offload.superPackets);
      expect(receiver.offload.mergedWrites).toBeGreaterThan(0);
      expect(receiver.offload.mergedSegments).toBeGreaterThan(receiver.offload.mergedWrites);
      expect(sender.rx.errors + sender.tx.errors + receiver.rx.errors + receiver.tx.errors).toBe(0);
    });
  });
});
