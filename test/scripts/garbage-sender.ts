/**
 * Sends COUNT malformed outer packets from LOCAL toward REMOTE: over a raw GRE or IPIP socket
 * (KIND 47 or 4) or as UDP to port KIND (anything else), 2 ms apart so the receiver's queue is
 * never what drops them. Prints {sent}.
 */
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPacketBatch, openRawSocket } from '../../native/index.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { fillSlot } from './batch-slots.js';
import { scriptArgs } from './script-args.js';

const { local, remote, count, kind } = scriptArgs('local', 'remote', 'count', 'kind');
const n = Number(count);

function garbage(i: number): Buffer {
  const b = Buffer.alloc(8 + (i % 40));
  for (let j = 0; j < b.length; j++) b[j] = (i * 131 + j * 29) & 0xff;
  // IPIP: IP version 0. GRE/FOU: the C and R bits (R must be discarded). GUE: variant 3.
  b[0] = kind === '4' ? 0x00 : 0xc0;
  return b;
}

if (kind === '47' || kind === '4') {
  const socket = openRawSocket(kind === '47' ? 47 : 4, local);
  const batch = createPacketBatch(1, 2048);
  for (let i = 0; i < n; i++) {
    fillSlot(batch, 0, garbage(i));
    batch.addrs[0] = ipv4ToNumber(remote);
    batch.ports[0] = 0;
    socket.writeBatch(batch, 1);
    await sleep(2);
  }
  socket.close();
} else {
  const socket = createSocket('udp4');
  await new Promise((bound) => socket.bind(0, local, () => bound(undefined)));
  for (let i = 0; i < n; i++) {
    await new Promise((sent) => socket.send(garbage(i), Number(kind), remote, sent));
    await sleep(2);
  }
  socket.close();
}
console.log(JSON.stringify({ sent: n }));
