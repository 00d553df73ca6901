/**
 * From 192.0.2.1 to 192.0.2.2:PORT, with segmentBytes 1000, one writeBatch of two slots: 10,500
 * bytes (ten 1000-byte segments and a 500-byte tail) and 700 bytes (one plain datagram); then,
 * from a socket with segmentBytes 1600, 3,200 bytes whose segments do not fit the 1500-byte MTU
 * (refused by the kernel with EMSGSIZE: a counted per-slot error). Prints both results, the
 * second socket's drop counters and the hex the receiver should see.
 */
import { createPacketBatch, openUdpSocket } from '../../native/index.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { scriptArgs } from './script-args.js';

const { port } = scriptArgs('port');
const socket = openUdpSocket('192.0.2.1', 0, { segmentBytes: 1000 });
const batch = createPacketBatch(3, 16384);
const lengths = [10500, 700, 3200] as const;
let expected = '';
lengths.forEach((length, i) => {
  const at = i * batch.slotSize;
  for (let j = 0; j < length; j++) batch.data[at + j] = (i * 31 + j * 7) & 0xff;
  if (i < 2) expected += batch.data.subarray(at, at + length).toString('hex');
  batch.offsets[i] = 0;
  batch.lengths[i] = length;
  batch.addrs[i] = ipv4ToNumber('192.0.2.2');
  batch.ports[i] = Number(port);
});
const first = socket.writeBatch(batch, 2);
const socketTooBig = openUdpSocket('192.0.2.1', 0, { segmentBytes: 1600 });
batch.data.copy(batch.data, 0, 2 * batch.slotSize, 2 * batch.slotSize + 3200);
batch.lengths[0] = 3200;
const second = socketTooBig.writeBatch(batch, 1);
const counters = socketTooBig.dropCounters();
socket.close();
socketTooBig.close();
console.log(JSON.stringify({ first, second, counters, expected }));
