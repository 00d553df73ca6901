import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPairTopology, createRoutedIpv6Topology, execIn, execInAsync, runNodeIn, startNodeIn, type PairTopology, type RoutedIpv6Topology,
} from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { startUp, statusIn, tunnelClientCli, type RunningUp, upArgs } from '../helpers/tunnel-client-process.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping client-up-ipv6: ${reason}`);

const TRANSFER_BYTES = 8 * 1024 * 1024;

interface Case {
  label: string;
  encap: 'gre' | 'ipip' | 'fou' | 'gue';
  key?: number;
  /** 1500 less the IPv6 header (40) and the encapsulation's own bytes. */
  mtu: number;
  net: number;
}

const CASES: Case[] = [
  { label: 'gre (ip6gre)', encap: 'gre', mtu: 1456, net: 1 },
  { label: 'gre with key', encap: 'gre', key: 4660, mtu: 1452, net: 2 },
  { label: 'ipip (ip6tnl, IPv4 and IPv6 inside)', encap: 'ipip', mtu: 1460, net: 3 },
  { label: 'fou over UDP/IPv6', encap: 'fou', mtu: 1448, net: 4 },
  { label: 'gue over UDP/IPv6', encap: 'gue', mtu: 1448, net: 5 },
];

async function transferIntact(sender: string, receiverNs: string, host: string, port: string, bytes: number): Promise<void> {
  const receiver = startNodeIn(receiverNs, testScript('tcp-hash-receiver'), [host, port], 120_000);
  await receiver.ready;
  const sent = await runNodeIn(sender, testScript('tcp-hash-sender'), [host, port, String(bytes)], 120_000) as { bytes: number; sha256: string };
  expect(sent.bytes).toBe(bytes);
  expect(await receiver.result).toEqual(sent);
}

describe.skipIf(reason)('tunnel-client up over an IPv6 outer path (two namespaces, veth)', () => {
  let pair: PairTopology;
  let stateA: string;
  let stateB: string;

  beforeAll(() => {
    pair = createPairTopology({ ipv6: true });
    stateA = mkdtempSync(join(tmpdir(), 'tc-up6-a-'));
    stateB = mkdtempSync(join(tmpdir(), 'tc-up6-b-'));
  });

  afterAll(() => {
    pair?.destroy();
    for (const dir of [stateA, stateB]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(CASES)('$label', (c) => {
    const name = `tnl6-${c.net}`;
    const innerA = `10.76.${c.net}.1`;
    const innerB = `10.76.${c.net}.2`;
    let upA: RunningUp | undefined;
    let upB: RunningUp | undefined;

    const args = (local: string, remote: string, inner: string, peer: string, state: string) =>
      upArgs({ local, remote, encap: c.encap, inner, peer, name, state, key: c.key });

    beforeAll(async () => {
      upA = await startUp(pair.a, args(pair.aAddress6, pair.bAddress6, innerA, innerB, stateA));
      upB = await startUp(pair.b, args(pair.bAddress6, pair.aAddress6, innerB, innerA, stateB));
    });

    afterAll(async () => {
      expect(await Promise.all([upA?.stop(), upB?.stop()])).toEqual([0, 0]);
    });

    it('pings both ways; status shows the IPv6 outer path and the MTU of its encapsulation', async () => {
      const ab = await execInAsync(pair.a, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', innerB]);
      const ba = await execInAsync(pair.b, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', innerA]);
      expect(ab.stdout).toMatch(/3 received/);
      expect(ba.stdout).toMatch(/3 received/);
      const [tunnel] = statusIn(pair.a, stateA).tunnels;
      expect(tunnel).toMatchObject({
        name, encap: c.encap, outerFamily: 'ipv6', local: pair.aAddress6, remote: pair.bAddress6, mtu: c.mtu, pathMtu: null,
        ...(c.encap === 'ipip' ? {} : { state: 'up' }),
      });
      expect(execIn(pair.a, 'ip', ['-o', 'link', 'show', name])).toContain(`mtu ${c.mtu}`);
      // The common packets crossed without JS.
      expect(tunnel!.fastPath.txPackets).toBeGreaterThan(0);
    });

    it('carries a TCP transfer intact', async () => {
      await transferIntact(pair.a, pair.b, innerB, String(5400 + c.net), TRANSFER_BYTES);
    });

    it('carries inner IPv6', async () => {
      execIn(pair.a, 'ip', ['-6', 'addr', 'add', `fd00:76:${c.net}::1/64`, 'dev', name, 'nodad']);
      execIn(pair.b, 'ip', ['-6', 'addr', 'add', `fd00:76:${c.net}::2/64`, 'dev', name, 'nodad']);
      const result = await execInAsync(pair.a, 'ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', `fd00:76:${c.net}::2`]);
      expect(result.stdout).toMatch(/3 received/);
    });
  });

  it('refuses an IPv6 local with an IPv4 remote, and a link-local outer address, with a coded error', async () => {
    const mixed = await execInAsync(pair.a, process.execPath, [tunnelClientCli(), 'up', '--local', pair.aAddress6,
      '--remote', pair.bAddress, '--encap', 'gre', '--address', '10.76.9.1/30', '--peer-address', '10.76.9.2', '--state', stateA]);
    expect(mixed.code).not.toBe(0);
    expect(mixed.stderr).toMatch(/ERR_INVALID_ADDRESS.*one family/);
    const linkLocal = await execInAsync(pair.a, process.execPath, [tunnelClientCli(), 'up', '--local', 'fe80::1',
      '--remote', pair.bAddress6, '--encap', 'gre', '--address', '10.76.9.1/30', '--peer-address', '10.76.9.2', '--state', stateA]);
    expect(linkLocal.code).not.toBe(0);
    expect(linkLocal.stderr).toMatch(/ERR_INVALID_ADDRESS.*linkLocal/);
    expect(execIn(pair.a, 'ip', ['-o', 'link', 'show'])).not.toContain('tnl-gre');
  });
});

describe.skipIf(reason)('ICMPv6 Packet Too Big on the outer path lowers the tunnel MTU', () => {
  let topology: RoutedIpv6Topology;
  let stateA: string;
  let stateB: string;

  beforeAll(() => {
    topology = createRoutedIpv6Topology(1400);
    stateA = mkdtempSync(join(tmpdir(), 'tc-pmtu-a-'));
    stateB = mkdtempSync(join(tmpdir(), 'tc-pmtu-b-'));
  });

  afterAll(() => {
    topology?.destroy();
    for (const dir of [stateA, stateB]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const upBoth = async (encap: string, net: number): Promise<RunningUp[]> => {
    const args = (local: string, remote: string, me: number, state: string) => ['--local', local, '--remote', remote, '--encap', encap,
      '--address', `10.75.${net}.${me}/30`, '--peer-address', `10.75.${net}.${3 - me}`, '--name', `tpm-${encap}`, '--keepalive', '1', '--state', state];
    return [
      await startUp(topology.a, args(topology.aAddress, topology.bAddress, 1, stateA)),
      await startUp(topology.b, args(topology.bAddress, topology.aAddress, 2, stateB)),
    ];
  };

  it('gre: learns the 1400-byte path from the router\'s Packet Too Big, shrinks the TUN to fit, and TCP then crosses', async () => {
    const ups = await upBoth('gre', 1);
    try {
      const inner = '10.75.1.2';
      expect((await execInAsync(topology.a, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', inner])).stdout).toMatch(/2 received/);
      expect(statusIn(topology.a, stateA).tunnels[0]).toMatchObject({ mtu: 1456, pathMtu: null });
      // An inner packet that fits the tunnel but whose outer packet exceeds the narrow link.
      await execInAsync(topology.a, 'ping', ['-M', 'do', '-s', '1400', '-c', '1', '-W', '1', inner]);
      await waitUntil(() => statusIn(topology.a, stateA).tunnels[0]!.pathMtu === 1400, 5000, 'the path MTU report');
      expect(statusIn(topology.a, stateA).tunnels[0]!.mtu).toBe(1356);
      expect(execIn(topology.a, 'ip', ['-o', 'link', 'show', 'tpm-gre'])).toContain('mtu 1356');
      expect(ups[0]!.output()).toMatch(/outer path MTU changed/);
      await transferIntact(topology.a, topology.b, inner, '5501', TRANSFER_BYTES);
    } finally {
      expect(await Promise.all(ups.map((up) => up.stop()))).toEqual([0, 0]);
    }
  });

  it('fou, later on the same path: starts at the path MTU the kernel already knows, and TCP crosses', async () => {
    const ups = await upBoth('fou', 2);
    try {
      expect(statusIn(topology.a, stateA).tunnels[0]).toMatchObject({ pathMtu: 1400, mtu: 1348 });
      expect(execIn(topology.a, 'ip', ['-o', 'link', 'show', 'tpm-fou'])).toContain('mtu 1348');
      await transferIntact(topology.a, topology.b, '10.75.2.2', '5502', TRANSFER_BYTES);
    } finally {
      expect(await Promise.all(ups.map((up) => up.stop()))).toEqual([0, 0]);
    }
  });
});
