import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, execIn, execInAsync, runNodeIn, startNodeIn, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { startUp, statusIn, type RunningUp, upArgs } from '../helpers/tunnel-client-process.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping client-up-encapsulations: ${reason}`);

interface Case {
  label: string;
  encap: 'gre' | 'ipip' | 'fou' | 'gue';
  key?: number;
  mtu: number;
  /** Third octet of the inner /30, so runs never share addresses. */
  net: number;
  ipv6: boolean;
}

const CASES: Case[] = [
  { label: 'gre', encap: 'gre', mtu: 1476, net: 1, ipv6: true },
  { label: 'gre with key', encap: 'gre', key: 4660, mtu: 1472, net: 2, ipv6: true },
  { label: 'ipip', encap: 'ipip', mtu: 1480, net: 3, ipv6: false },
  { label: 'fou', encap: 'fou', mtu: 1468, net: 4, ipv6: true },
  { label: 'gue', encap: 'gue', mtu: 1468, net: 5, ipv6: true },
];

const TRANSFER_BYTES = 50 * 1024 * 1024;

describe.skipIf(reason)('tunnel-client up over each encapsulation (two namespaces, veth)', () => {
  let pair: PairTopology;
  let stateA: string;
  let stateB: string;

  beforeAll(() => {
    pair = createPairTopology();
    stateA = mkdtempSync(join(tmpdir(), 'tc-up-a-'));
    stateB = mkdtempSync(join(tmpdir(), 'tc-up-b-'));
  });

  afterAll(() => {
    pair?.destroy();
    for (const dir of [stateA, stateB]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(CASES)('$label', (c) => {
    const name = `tnl-${c.label.replace(/ .*/, '')}${c.key === undefined ? '' : 'k'}`;
    const innerA = `10.77.${c.net}.1`;
    const innerB = `10.77.${c.net}.2`;
    let upA: RunningUp | undefined;
    let upB: RunningUp | undefined;

    const args = (local: string, remote: string, inner: string, peer: string, state: string) =>
      upArgs({ local, remote, encap: c.encap, inner, peer, name, state, key: c.key });

    beforeAll(async () => {
      upA = await startUp(pair.a, args(pair.aAddress, pair.bAddress, innerA, innerB, stateA));
      upB = await startUp(pair.b, args(pair.bAddress, pair.aAddress, innerB, innerA, stateB));
    });

    afterAll(async () => {
      const codes = await Promise.all([upA?.stop(), upB?.stop()]);
      // SIGTERM is a clean stop: exit 0 and the interface is gone.
      expect(codes).toEqual([0, 0]);
      expect(execIn(pair.a, 'ip', ['-o', 'link', 'show'])).not.toContain(name);
    });

    it('pings both ways and reports the tunnel up with the MTU of its encapsulation', async () => {
      const ab = await execInAsync(pair.a, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', innerB]);
      const ba = await execInAsync(pair.b, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', innerA]);
      expect(ab.stdout).toMatch(/3 received/);
      expect(ba.stdout).toMatch(/3 received/);
      const [tunnel] = statusIn(pair.a, stateA).tunnels;
      expect(tunnel).toMatchObject({ name, state: 'up', encap: c.encap, local: pair.aAddress, remote: pair.bAddress, inner: `${innerA}/30`, peerInner: innerB, mtu: c.mtu });
      expect(tunnel!.rx.packets).toBeGreaterThanOrEqual(3);
      expect(execIn(pair.a, 'ip', ['-o', 'link', 'show', name])).toContain(`mtu ${c.mtu}`);
    });

    it('carries a 50 MB TCP transfer intact', async () => {
      const receiver = startNodeIn(pair.b, testScript('tcp-hash-receiver'), [innerB, '5201'], 120_000);
      await receiver.ready;
      const sent = await runNodeIn(pair.a, testScript('tcp-hash-sender'), [innerB, '5201', String(TRANSFER_BYTES)], 120_000) as { bytes: number; sha256: string };
      const received = await receiver.result as { bytes: number; sha256: string };
      expect(sent.bytes).toBe(TRANSFER_BYTES);
      expect(received).toEqual(sent);
    });

    it('refuses a 1500-byte DF ping with "message too long" at the tunnel MTU', async () => {
      const result = await execInAsync(pair.a, 'ping', ['-M', 'do', '-s', '1472', '-c', '1', '-W', '2', innerB]);
      expect(result.stdout + result.stderr).toMatch(new RegExp(`message too long, mtu=${c.mtu}|Frag needed and DF set \\(mtu = ${c.mtu}\\)`));
    });

    it('answers oversized DF packets with ICMP fragmentation needed, so path-MTU discovery carries TCP', async () => {
      // With both interfaces at 1500 the kernel hands the engine packets larger than the tunnel
      // takes: only the engine's ICMP can shrink the path MTU.
      for (const [ns] of [[pair.a], [pair.b]] as const) execIn(ns, 'ip', ['link', 'set', 'dev', name, 'mtu', '1500']);
      execIn(pair.a, 'ip', ['route', 'flush', 'cache']);
      try {
        const ping = await execInAsync(pair.a, 'ping', ['-M', 'do', '-s', '1472', '-c', '1', '-W', '2', innerB]);
        expect(ping.stdout).toMatch(new RegExp(`Frag needed and DF set \\(mtu = ${c.mtu}\\)`));
        const receiver = startNodeIn(pair.b, testScript('tcp-hash-receiver'), [innerB, '5202'], 60_000);
        await receiver.ready;
        const sent = await runNodeIn(pair.a, testScript('tcp-hash-sender'), [innerB, '5202', String(4 * 1024 * 1024)], 60_000) as { sha256: string };
        expect((await receiver.result as { sha256: string }).sha256).toBe(sent.sha256);
        expect(statusIn(pair.a, stateA).tunnels[0]!.dropsByReason['tx:too-big']).toBeGreaterThan(0);
      } finally {
        for (const ns of [pair.a, pair.b]) execIn(ns, 'ip', ['link', 'set', 'dev', name, 'mtu', String(c.mtu)]);
      }
    });

    it('carries a TTL-1 multicast datagram to 224.0.0.5 (the OSPF hello case)', async () => {
      const receiver = startNodeIn(pair.b, testScript('multicast-receiver'), ['224.0.0.5', innerB, '5405'], 30_000);
      await receiver.ready;
      await runNodeIn(pair.a, testScript('multicast-sender'), ['224.0.0.5', innerA, '5405', '10'], 30_000);
      expect(await receiver.result).toMatchObject({ from: innerA, text: expect.stringMatching(/^hello \d$/) });
    });

    it(c.ipv6 ? 'carries IPv6: ping between fd00:77::/64 addresses on the two TUNs' : 'refuses IPv6 (a bare IPIP tunnel carries only IPv4) and counts it', async () => {
      execIn(pair.a, 'ip', ['-6', 'addr', 'add', `fd00:77:${c.net}::1/64`, 'dev', name, 'nodad']);
      execIn(pair.b, 'ip', ['-6', 'addr', 'add', `fd00:77:${c.net}::2/64`, 'dev', name, 'nodad']);
      const result = await execInAsync(pair.a, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '1', `fd00:77:${c.net}::2`]);
      if (c.ipv6) {
        expect(result.stdout).toMatch(/3 received/);
      } else {
        expect(result.stdout).toMatch(/ 0 received/);
        expect(statusIn(pair.a, stateA).tunnels[0]!.dropsByReason['tx:unsupported-inner']).toBeGreaterThanOrEqual(3);
      }
    });

    it('counts malformed outer packets as errors while pings keep flowing', async () => {
      const before = statusIn(pair.a, stateA).tunnels[0]!;
      const kind = c.encap === 'gre' ? '47' : c.encap === 'ipip' ? '4' : c.encap === 'fou' ? '4754' : '6080';
      const ping = execInAsync(pair.a, 'ping', ['-c', '20', '-i', '0.1', '-W', '2', innerB]);
      const garbage = await runNodeIn(pair.b, testScript('garbage-sender'), [pair.bAddress, pair.aAddress, '300', kind], 60_000) as { sent: number };
      const pings = await ping;
      expect(garbage.sent).toBe(300);
      const received = Number(/(\d+) received/.exec(pings.stdout)?.[1] ?? 0);
      expect(received).toBeGreaterThanOrEqual(18);
      await waitUntil(() => statusIn(pair.a, stateA).tunnels[0]!.rx.errors - before.rx.errors >= 300, 10_000, 'the garbage to be counted');
      const after = statusIn(pair.a, stateA).tunnels[0]!;
      expect(after.rx.packets).toBeGreaterThan(before.rx.packets);
      expect(after.state).toBe('up');
    });
  });
});
