import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, runNodeIn, startNodeIn, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import type { RawPacketSeen } from '../scripts/raw-socket-receiver.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native socket tests: ${skipReason}`);

describe.skipIf(skipReason)('native raw and UDP sockets (netns pair 192.0.2.1 <-> 192.0.2.2)', () => {
  let pair: PairTopology;

  beforeAll(() => {
    pair = createPairTopology();
  });
  afterAll(() => pair?.destroy());

  it.each([
    [47, 'GRE', '00000800' + '4500001c'],
    [4, 'IPIP', '4500001c0000000040110000c0000201c0000202'],
  ])('raw socket for protocol %i (%s): a packet from A arrives at B with the right source and header', async (protocol, _name, hex) => {
    const receiver = startNodeIn(pair.b, testScript('raw-socket-receiver'), [String(protocol)]);
    await receiver.ready;
    const sender = (await runNodeIn(pair.a, testScript('raw-socket-sender'), [String(protocol), '33', hex])) as { accepted: number };
    expect(sender.accepted).toBe(1);
    const got = (await receiver.result) as RawPacketSeen | null;
    expect(got).toEqual({
      count: 1,
      offset: 16,
      source: 0xc0000201,
      headerSource: '192.0.2.1',
      protocol,
      ttl: 33,
      dontFragment: false,
      payloadHex: hex,
    });
  });

  it('a batch of 64 UDP datagrams round-trips with contents and addresses intact', async () => {
    const port = 40000 + (process.pid % 20000);
    const echo = startNodeIn(pair.b, testScript('udp-batch-echo'), [String(port)]);
    await echo.ready;
    const client = (await runNodeIn(pair.a, testScript('udp-batch-client'), [String(port)])) as Record<string, unknown>;
    expect(client).toMatchObject({ accepted: 64, received: 64, intact: 64, wrongSource: [], localPortNonZero: true });
    expect(await echo.result).toEqual({ echoed: 64 });
  });
});
