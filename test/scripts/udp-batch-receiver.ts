/**
 * On 192.0.2.2:PORT (with UDP receive offload when OFFLOAD is 1), reading CAPACITY slots at a
 * time, collects datagrams until COUNT arrived (or 15 s passed); prints `ready`, then their
 * sizes and their bytes joined as hex.
 */
import { createPacketBatch, openUdpSocket } from '../../native/index.js';
import { slotBytes } from './batch-slots.js';
import { scriptArgs } from './script-args.js';

/** What the receiver prints. */
export interface UdpBatchReceived {
  sizes: number[];
  joined: string;
}

const args = scriptArgs('port', 'count', 'offload', 'capacity');
const socket = openUdpSocket('192.0.2.2', Number(args.port), { receiveOffload: args.offload === '1' });
const batch = createPacketBatch(Number(args.capacity), 2048);
const sizes: number[] = [];
const bodies: string[] = [];
const timer = setTimeout(finish, 15_000);
socket.onReadable(() => {
  for (;;) {
    const n = socket.readBatch(batch);
    if (n === 0) break;
    for (let k = 0; k < n; k++) {
      const body = slotBytes(batch, k);
      sizes.push(body.length);
      bodies.push(body.toString('hex'));
    }
  }
  if (sizes.length >= Number(args.count)) finish();
});

function finish(): void {
  clearTimeout(timer);
  socket.close();
  const received: UdpBatchReceived = { sizes, joined: bodies.join('') };
  console.log(JSON.stringify(received));
}
console.log('ready');
