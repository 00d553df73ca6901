import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPairTopology, distUrl, runNodeIn, startNodeIn, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native socket tests: ${skipReason}`);

const nativeUrl = distUrl('native/index.js');

// B: a raw socket for PROTOCOL on 192.0.2.2 reports the first packet it gets, outer header included.
const rawReceiverScript = `
import { createPacketBatch, openRawSocket } from '${nativeUrl}';
const protocol = Number(process.argv[1]);
const socket = openRawSocket(protocol, '192.0.2.2');
const batch = createPacketBatch(8, 2048);
const timer = setTimeout(() => { socket.close(); console.log(JSON.stringify(null)); }, 20000);
socket.onReadable(() => {
  const n = socket.readBatch(batch, 16);
  if (n === 0) return;
  const at = batch.offsets[0];
  const packet = batch.data.subarray(at, at + batch.lengths[0]);
  const headerLength = (packet[0] & 15) * 4;
  clearTimeout(timer);
  socket.close();
  console.log(JSON.stringify({
    count: n, offset: at,
    source: batch.addrs[0],
    headerSource: [...packet.subarray(12, 16)].join('.'),
    protocol: packet[9], ttl: packet[8], dontFragment: (packet[6] & 0x40) !== 0,
    payloadHex: packet.subarray(headerLength).toString('hex'),
  }));
});
console.log('ready');
`;

// A: sends one payload (no IP header; the kernel builds it) to 192.0.2.2 with a chosen TTL.
const rawSenderScript = `
import { createPacketBatch, openRawSocket } from '${nativeUrl}';
const [protocol, ttl, hex] = process.argv.slice(1);
const socket = openRawSocket(Number(protocol), '192.0.2.1', { ttl: Number(ttl) });
const batch = createPacketBatch(1, 2048);
const payload = Buffer.from(hex, 'hex');
payload.copy(batch.data, 8);
batch.offsets[0] = 8; batch.lengths[0] = payload.length; batch.addrs[0] = (192 << 24 | 0 << 16 | 2 << 8 | 2) >>> 0;
const accepted = socket.writeBatch(batch, 1);
socket.close();
console.log(JSON.stringify({ accepted }));
`;

// B: echoes every datagram back to its source until told to stop (a datagram "stop").
const udpEchoScript = `
import { createPacketBatch, openUdpSocket } from '${nativeUrl}';
const socket = openUdpSocket('192.0.2.2', Number(process.argv[1]));
const batch = createPacketBatch(64, 2048);
let echoed = 0;
socket.onReadable(() => {
  for (;;) {
    const n = socket.readBatch(batch);
    if (n === 0) return;
    const last = batch.data.subarray(batch.slotSize * (n - 1) + batch.offsets[n - 1]).subarray(0, batch.lengths[n - 1]);
    if (last.toString() === 'stop') { socket.close(); console.log(JSON.stringify({ echoed })); return; }
    // Sources become destinations: addrs/ports already hold them.
    let sent = 0;
    while (sent < n) {
      const accepted = socket.writeBatch(batch, n);
      if (accepted === n) sent = n; else throw new Error('short echo write ' + accepted);
    }
    echoed += n;
  }
});
console.log('ready');
`;

// A: sends 64 datagrams of distinct sizes and random contents in one batch, collects the echoes.
const udpClientScript = `
import { randomBytes } from 'node:crypto';
import { createPacketBatch, openUdpSocket } from '${nativeUrl}';
const serverPort = Number(process.argv[1]);
const socket = openUdpSocket('192.0.2.1', 0);
const server = (192 << 24 | 2 << 8 | 2) >>> 0;
const tx = createPacketBatch(64, 2048);
const sent = new Map();
for (let i = 0; i < 64; i++) {
  const body = randomBytes(1 + i * 21);
  body[0] = i;
  body.copy(tx.data, i * tx.slotSize);
  tx.offsets[i] = 0; tx.lengths[i] = body.length; tx.addrs[i] = server; tx.ports[i] = serverPort;
  sent.set(i, body.toString('hex'));
}
const accepted = socket.writeBatch(tx, 64);
const rx = createPacketBatch(64, 2048);
const seen = new Map();
const wrongSource = [];
let reads = 0;
const timer = setTimeout(finish, 20000);
socket.onReadable(() => {
  const n = socket.readBatch(rx, 4);
  reads++;
  for (let i = 0; i < n; i++) {
    const at = i * rx.slotSize + rx.offsets[i];
    const body = rx.data.subarray(at, at + rx.lengths[i]);
    if (rx.addrs[i] !== server || rx.ports[i] !== serverPort) wrongSource.push(rx.addrs[i] + ':' + rx.ports[i]);
    seen.set(body[0], body.toString('hex'));
  }
  if (seen.size === 64) finish();
});
function finish() {
  clearTimeout(timer);
  let intact = 0;
  for (const [i, hex] of sent) if (seen.get(i) === hex) intact++;
  const stop = createPacketBatch(1, 64);
  Buffer.from('stop').copy(stop.data); stop.lengths[0] = 4; stop.addrs[0] = server; stop.ports[0] = serverPort;
  socket.writeBatch(stop, 1);
  socket.close();
  console.log(JSON.stringify({ accepted, received: seen.size, intact, wrongSource, readsUsed: reads, localPortNonZero: socket.localPort > 0 }));
}
`;

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
    const receiver = startNodeIn(pair.b, rawReceiverScript, [String(protocol)]);
    await receiver.ready;
    const sender = (await runNodeIn(pair.a, rawSenderScript, [String(protocol), '33', hex])) as { accepted: number };
    expect(sender.accepted).toBe(1);
    const got = (await receiver.result) as Record<string, unknown>;
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
    const echo = startNodeIn(pair.b, udpEchoScript, [String(port)]);
    await echo.ready;
    const client = (await runNodeIn(pair.a, udpClientScript, [String(port)])) as Record<string, unknown>;
    expect(client).toMatchObject({ accepted: 64, received: 64, intact: 64, wrongSource: [], localPortNonZero: true });
    expect(await echo.result).toEqual({ echoed: 64 });
  });
});
