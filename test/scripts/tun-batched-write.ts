/**
 * In a fresh namespace: TUN tbw0 (10.201.0.1/24) gets 150 UDP packets from "10.201.0.2" to
 * 10.201.0.1:7000 in one writeBatch (more than one io_uring run), with a malformed packet in slot
 * 10 that the kernel must refuse; a UDP socket on 10.201.0.1:7000 reads them back. Also reports
 * whether an io_uring descriptor is open while the device is, and that none is left after close.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { createPacketBatch, openTun, openUdpSocket } from '../../native/index.js';
import { applyKernelChange } from '../../shared/system/apply-kernel-change.js';
import { internetChecksum } from '../../shared/wire/checksum.js';
import { slotBytes } from './batch-slots.js';

const ringDescriptors = (): number => readdirSync('/proc/self/fd').filter((fd) => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[io_uring]';
  } catch {
    return false;
  }
}).length;

const tun = openTun('tbw0');
await applyKernelChange({ kind: 'add-address', link: 'tbw0', cidr: '10.201.0.1/24' });
await applyKernelChange({ kind: 'set-up', link: 'tbw0', up: true });
const socket = openUdpSocket('10.201.0.1', 7000);
const ringsBefore = ringDescriptors();

const COUNT = 150;
const BAD = 10;
const tx = createPacketBatch(COUNT, 2048);
for (let i = 0; i < COUNT; i++) {
  const at = i * tx.slotSize + 16;
  tx.offsets[i] = 16;
  if (i === BAD) { // not IPv4 or IPv6
    tx.data.fill(0, at, at + 40);
    tx.lengths[i] = 40;
    continue;
  }
  const bodyLength = 100 + i;
  const p = tx.data.subarray(at, at + 28 + bodyLength);
  p.fill(0, 0, 28);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(i, 4);
  p[8] = 64;
  p[9] = 17;
  Buffer.from([10, 201, 0, 2, 10, 201, 0, 1]).copy(p, 12);
  p.writeUInt16BE(internetChecksum(p, 0, 20), 10);
  p.writeUInt16BE(5000, 20);
  p.writeUInt16BE(7000, 22);
  p.writeUInt16BE(8 + bodyLength, 24); // UDP checksum 0: none
  for (let j = 0; j < bodyLength; j++) p[28 + j] = (i * 7 + j) & 0xff;
  p.writeUInt16BE(i, 28);
  tx.lengths[i] = p.length;
}
const accepted = tun.writeBatch(tx, COUNT);
const dropped = tun.dropCounters();
const ringsWhileOpen = ringDescriptors();

const rx = createPacketBatch(64, 2048);
const order: number[] = [];
let intact = 0;
const timer = setTimeout(finish, 15_000);
socket.onReadable(() => {
  for (;;) {
    const n = socket.readBatch(rx);
    if (n === 0) break;
    for (let k = 0; k < n; k++) {
      const body = slotBytes(rx, k);
      const i = body.readUInt16BE(0);
      order.push(i);
      let same = body.length === 100 + i;
      for (let j = 2; same && j < body.length; j++) same = body[j] === ((i * 7 + j) & 0xff);
      if (same) intact++;
    }
  }
  if (order.length >= COUNT - 1) finish();
});

function finish(): void {
  clearTimeout(timer);
  socket.close();
  tun.close();
  const expected = [...Array(COUNT).keys()].filter((i) => i !== BAD);
  console.log(JSON.stringify({
    accepted, dropped, received: order.length, inOrder: JSON.stringify(order) === JSON.stringify(expected),
    intact, ringsBefore, ringsWhileOpen, ringsAfterClose: ringDescriptors(),
  }));
}
