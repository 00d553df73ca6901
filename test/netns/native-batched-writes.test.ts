import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, createPairTopology, deleteNamespaces, runNodeIn, startNodeIn, uniquePrefix, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import type { UdpBatchReceived } from '../scripts/udp-batch-receiver.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native batched write tests: ${skipReason}`);

describe.skipIf(skipReason)('native batched writes: TUN writes through io_uring, UDP segmentation offload', () => {
  let pair: PairTopology;
  let tunNamespace: string;

  beforeAll(() => {
    pair = createPairTopology();
    tunNamespace = `${uniquePrefix()}t`;
    createNamespaces([tunNamespace]);
  });
  afterAll(() => {
    pair?.destroy();
    if (tunNamespace) deleteNamespaces([tunNamespace]);
  });

  it('150 packets in one TUN writeBatch arrive in order and intact; a malformed one is dropped and counted; the process\'s one ring stays for the next device', async () => {
    const got = (await runNodeIn(tunNamespace, testScript('tun-batched-write'))) as Record<string, unknown>;
    expect(got).toEqual({
      accepted: 150,
      dropped: { truncatedReads: 0, unreadForwarded: 0, writeErrors: 1, lastWriteErrno: 22 },
      received: 149,
      inOrder: true,
      intact: 149,
      ringsBefore: 0,
      ringsWhileOpen: 1,
      // One ring serves every TUN of the process, not one per device.
      ringsAfterClose: 1,
    });
  });

  it('a UDP socket with segmentBytes sends one long slot as consecutive datagrams; an oversized segment is a counted drop', async () => {
    const port = 41000 + (process.pid % 20000);
    const receiver = startNodeIn(pair.b, testScript('udp-batch-receiver'), [String(port), '12', '0', '64']);
    await receiver.ready;
    const sender = (await runNodeIn(pair.a, testScript('udp-segment-sender'), [String(port)])) as {
      first: number;
      second: number;
      counters: { writeErrors: number; lastWriteErrno: number };
      expected: string;
    };
    const received = (await receiver.result) as UdpBatchReceived;
    expect(sender.first).toBe(2);
    expect(received.sizes).toEqual([1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 500, 700]);
    expect(received.joined).toBe(sender.expected);
    expect(sender.second).toBe(1);
    expect(sender.counters).toMatchObject({ writeErrors: 1, lastWriteErrno: 90 });
  });

  it('a UDP socket with receiveOffload reads a segmented send back as the same datagrams, across reads smaller than the run', async () => {
    const port = 43000 + (process.pid % 20000);
    // Four slots per read: the eleven coalesced datagrams of the first send span three reads.
    const receiver = startNodeIn(pair.b, testScript('udp-batch-receiver'), [String(port), '12', '1', '4']);
    await receiver.ready;
    const sender = (await runNodeIn(pair.a, testScript('udp-segment-sender'), [String(port)])) as { first: number; expected: string };
    const received = (await receiver.result) as UdpBatchReceived;
    expect(sender.first).toBe(2);
    expect(received.sizes).toEqual([1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 500, 700]);
    expect(received.joined).toBe(sender.expected);
  });
});
