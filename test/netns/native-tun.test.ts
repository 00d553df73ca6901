import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import type { TunEchoReply } from '../scripts/tun-echo.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native TUN tests: ${skipReason}`);

describe.skipIf(skipReason)('native TUN device (netns)', () => {
  const namespace = `${uniquePrefix()}tun`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it('carries an ICMP echo request to the kernel and the echo reply back', async () => {
    const result = (await runNodeIn(namespace, testScript('tun-echo'))) as {
      accepted: number;
      dropped: { writeErrors: number; lastWriteErrno: number; truncatedReads: number };
      callbacks: boolean;
      reply: TunEchoReply | null;
      mtu: number;
      addresses: string[];
      closed: boolean;
      existsAfterClose: boolean;
    };
    // Both slots consumed; the malformed one was refused by the kernel (EINVAL) and counted.
    expect(result.accepted).toBe(2);
    expect(result.dropped).toEqual({ truncatedReads: 0, unreadForwarded: 0, writeErrors: 1, lastWriteErrno: 22 });
    expect(result.callbacks).toBe(true);
    expect(result.reply).toEqual({
      offset: 32,
      source: '10.200.0.1',
      destination: '10.200.0.2',
      sequence: 7,
      payload: 'tunnel-native echo test',
      ipChecksumOk: true,
      icmpChecksumOk: true,
    });
    expect(result.mtu).toBe(1400);
    expect(result.addresses).toContain('10.200.0.1/24');
    // Not persistent: closing the descriptor removed the interface.
    expect(result.closed).toBe(true);
    expect(result.existsAfterClose).toBe(false);
  });

  it('configures peer, IPv6 addresses and routes, link down, and deletes the link', async () => {
    const result = (await runNodeIn(namespace, testScript('tun-link-config'))) as {
      addrs: { local: string; peer: string | null; prefixlen: number }[];
      routes4: string[];
      routes6: string[];
      upAfterDown: boolean;
      existsAfterDelete: boolean;
    };
    expect(result.addrs).toContainEqual({ local: '10.201.0.1', peer: '10.201.0.2', prefixlen: 30 });
    expect(result.addrs.filter((a) => a.local === '10.201.0.1')).toHaveLength(1);
    expect(result.addrs).toContainEqual({ local: '2001:db8:1::1', peer: null, prefixlen: 64 });
    expect(result.routes4).toEqual(expect.arrayContaining(['10.201.0.0/30', '10.202.0.0/24']));
    expect(result.routes6).toEqual(expect.arrayContaining(['2001:db8:1::/64', '2001:db8:2::/48']));
    expect(result.upAfterDown).toBe(false);
    expect(result.existsAfterDelete).toBe(false);
  });

  it('opens several queues of one multi-queue device and fires a one-shot writable callback once', async () => {
    expect(await runNodeIn(namespace, testScript('tun-queues-writable'))).toEqual({
      names: ['tntq', 'tntq'],
      writable: 1,
      existsWithOneQueue: true,
      existsAfterBoth: false,
    });
  });
});
