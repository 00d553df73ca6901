import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, createPairTopology, deleteNamespaces, distUrl, runNodeIn, startNodeIn, uniquePrefix, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED native batched write tests: ${skipReason}`);

const nativeUrl = distUrl('native/index.js');

// Runs in a fresh namespace: TUN tbw0 (10.201.0.1/24) gets 150 UDP packets from "10.201.0.2" to
// 10.201.0.1:7000 in one writeBatch (more than one io_uring run), with a malformed packet in slot
// 10 that the kernel must refuse; a UDP socket on 10.201.0.1:7000 reads them back. Also reports
// whether an io_uring descriptor is open while the device is, and that none is left after close.
const tunScript = `
import { readdirSync, readlinkSync } from 'node:fs';
import { createPacketBatch, openTun, openUdpSocket } from '${nativeUrl}';
import { applyKernelChange } from '${distUrl('shared/system/apply-kernel-change.js')}';

const ringDescriptors = () => readdirSync('/proc/self/fd').filter((fd) => {
  try { return readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:[io_uring]'; } catch { return false; }
}).length;
function checksum(buf, start, end) {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (buf[i] << 8) | (i + 1 < end ? buf[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const tun = openTun('tbw0');
applyKernelChange({ kind: 'add-address', link: 'tbw0', cidr: '10.201.0.1/24' });
applyKernelChange({ kind: 'set-up', link: 'tbw0', up: true });
const socket = openUdpSocket('10.201.0.1', 7000);
const ringsBefore = ringDescriptors();

const COUNT = 150, BAD = 10;
const tx = createPacketBatch(COUNT, 2048);
for (let i = 0; i < COUNT; i++) {
  const at = i * tx.slotSize + 16;
  tx.offsets[i] = 16;
  if (i === BAD) { tx.data.fill(0, at, at + 40); tx.lengths[i] = 40; continue; }  // not IPv4 or IPv6
  const bodyLength = 100 + i;
  const p = tx.data.subarray(at, at + 28 + bodyLength);
  p.fill(0, 0, 28);
  p[0] = 0x45; p.writeUInt16BE(p.length, 2); p.writeUInt16BE(i, 4); p[8] = 64; p[9] = 17;
  Buffer.from([10, 201, 0, 2, 10, 201, 0, 1]).copy(p, 12);
  p.writeUInt16BE(checksum(p, 0, 20), 10);
  p.writeUInt16BE(5000, 20); p.writeUInt16BE(7000, 22); p.writeUInt16BE(8 + bodyLength, 24);  // UDP checksum 0: none
  for (let j = 0; j < bodyLength; j++) p[28 + j] = (i * 7 + j) & 0xff;
  p.writeUInt16BE(i, 28);
  tx.lengths[i] = p.length;
}
const accepted = tun.writeBatch(tx, COUNT);
const dropped = tun.dropCounters();
const ringsWhileOpen = ringDescriptors();

const rx = createPacketBatch(64, 2048);
const order = [];
let intact = 0;
const timer = setTimeout(finish, 15000);
socket.onReadable(() => {
  for (;;) {
    const n = socket.readBatch(rx);
    if (n === 0) break;
    for (let k = 0; k < n; k++) {
      const body = rx.data.subarray(k * rx.slotSize + rx.offsets[k], k * rx.slotSize + rx.offsets[k] + rx.lengths[k]);
      const i = body.readUInt16BE(0);
      order.push(i);
      let same = body.length === 100 + i;
      for (let j = 2; same && j < body.length; j++) same = body[j] === ((i * 7 + j) & 0xff);
      if (same) intact++;
    }
  }
  if (order.length >= COUNT - 1) finish();
});
function finish() {
  clearTimeout(timer);
  socket.close();
  tun.close();
  const expected = [...Array(COUNT).keys()].filter((i) => i !== BAD);
  console.log(JSON.stringify({ accepted, dropped, received: order.length, inOrder: JSON.stringify(order) === JSON.stringify(expected),
    intact, ringsBefore, ringsWhileOpen, ringsAfterClose: ringDescriptors() }));
}
`;

// B: collects datagrams on 192.0.2.2:PORT until `count` arrived (or a timeout), reports sizes and bytes.
const receiverScript = `
import { createPacketBatch, openUdpSocket } from '${nativeUrl}';
const [port, count, offload, capacity] = process.argv.slice(1).map(Number);
const socket = openUdpSocket('192.0.2.2', port, { receiveOffload: offload === 1 });
const batch = createPacketBatch(capacity || 64, 2048);
const sizes = [];
const bodies = [];
const timer = setTimeout(finish, 15000);
socket.onReadable(() => {
  for (;;) {
    const n = socket.readBatch(batch);
    if (n === 0) break;
    for (let k = 0; k < n; k++) {
      const at = k * batch.slotSize + batch.offsets[k];
      sizes.push(batch.lengths[k]);
      bodies.push(batch.data.subarray(at, at + batch.lengths[k]).toString('hex'));
    }
  }
  if (sizes.length >= count) finish();
});
function finish() {
  clearTimeout(timer);
  socket.close();
  console.log(JSON.stringify({ sizes, joined: bodies.join('') }));
}
console.log('ready');
`;

// A: with segmentBytes 1000, one writeBatch of three slots: 10,500 bytes (ten 1000-byte segments
// and a 500-byte tail), 700 bytes (one plain datagram), then 3,200 bytes whose 1600-byte segments
// do not fit the 1500-byte MTU (refused by the kernel with EMSGSIZE: a counted per-slot error).
const segmentSenderScript = `
import { createPacketBatch, openUdpSocket } from '${nativeUrl}';
const port = Number(process.argv[1]);
const socket = openUdpSocket('192.0.2.1', 0, { segmentBytes: 1000 });
const batch = createPacketBatch(3, 16384);
const lengths = [10500, 700, 3200];
let expected = '';
for (let i = 0; i < 3; i++) {
  const at = i * batch.slotSize;
  for (let j = 0; j < lengths[i]; j++) batch.data[at + j] = (i * 31 + j * 7) & 0xff;
  if (i < 2) expected += batch.data.subarray(at, at + lengths[i]).toString('hex');
  batch.offsets[i] = 0; batch.lengths[i] = lengths[i];
  batch.addrs[i] = (192 << 24 | 2 << 8 | 2) >>> 0; batch.ports[i] = port;
}
const first = socket.writeBatch(batch, 2);
const socketTooBig = openUdpSocket('192.0.2.1', 0, { segmentBytes: 1600 });
batch.data.copy(batch.data, 0, 2 * batch.slotSize, 2 * batch.slotSize + 3200);
batch.lengths[0] = 3200;
const second = socketTooBig.writeBatch(batch, 1);
const counters = socketTooBig.dropCounters();
socket.close();
socketTooBig.close();
console.log(JSON.stringify({ first, second, counters, expected }));
`;

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

  it('150 packets in one TUN writeBatch arrive in order and intact; a malformed one is dropped and counted; the ring closes with the device', async () => {
    const got = (await runNodeIn(tunNamespace, tunScript)) as Record<string, unknown>;
    expect(got).toEqual({
      accepted: 150,
      dropped: { truncatedReads: 0, unreadForwarded: 0, writeErrors: 1, lastWriteErrno: 22 },
      received: 149,
      inOrder: true,
      intact: 149,
      ringsBefore: 0,
      ringsWhileOpen: 1,
      ringsAfterClose: 0,
    });
  });

  it('a UDP socket with segmentBytes sends one long slot as consecutive datagrams; an oversized segment is a counted drop', async () => {
    const port = 41000 + (process.pid % 20000);
    const receiver = startNodeIn(pair.b, receiverScript, [String(port), '12']);
    await receiver.ready;
    const sender = (await runNodeIn(pair.a, segmentSenderScript, [String(port)])) as {
      first: number;
      second: number;
      counters: { writeErrors: number; lastWriteErrno: number };
      expected: string;
    };
    const received = (await receiver.result) as { sizes: number[]; joined: string };
    expect(sender.first).toBe(2);
    expect(received.sizes).toEqual([1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 500, 700]);
    expect(received.joined).toBe(sender.expected);
    expect(sender.second).toBe(1);
    expect(sender.counters).toMatchObject({ writeErrors: 1, lastWriteErrno: 90 });
  });

  it('a UDP socket with receiveOffload reads a segmented send back as the same datagrams, across reads smaller than the run', async () => {
    const port = 43000 + (process.pid % 20000);
    // Four slots per read: the eleven coalesced datagrams of the first send span three reads.
    const receiver = startNodeIn(pair.b, receiverScript, [String(port), '12', '1', '4']);
    await receiver.ready;
    const sender = (await runNodeIn(pair.a, segmentSenderScript, [String(port)])) as { first: number; expected: string };
    const received = (await receiver.result) as { sizes: number[]; joined: string };
    expect(sender.first).toBe(2);
    expect(received.sizes).toEqual([1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 500, 700]);
    expect(received.joined).toBe(sender.expected);
  });
});
