/**
 * From 192.0.2.1, sends 64 datagrams of distinct sizes and random contents in one batch to the
 * echo on 192.0.2.2:PORT, collects the echoes (reading 4 slots at a time), then tells the echo
 * to stop; prints what came back.
 */
import { randomBytes } from 'node:crypto';
import { createPacketBatch, openUdpSocket } from '../../native/index.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { fillSlot, slotBytes } from './batch-slots.js';
import { scriptArgs } from './script-args.js';

const { port } = scriptArgs('port');
const serverPort = Number(port);
const socket = openUdpSocket('192.0.2.1', 0);
const server = ipv4ToNumber('192.0.2.2');
const tx = createPacketBatch(64, 2048);
const sent = new Map<number, string>();
for (let i = 0; i < 64; i++) {
  const body = randomBytes(1 + i * 21);
  body[0] = i;
  fillSlot(tx, i, body);
  tx.addrs[i] = server;
  tx.ports[i] = serverPort;
  sent.set(i, body.toString('hex'));
}
const accepted = socket.writeBatch(tx, 64);
const rx = createPacketBatch(64, 2048);
const seen = new Map<number, string>();
const wrongSource: string[] = [];
let reads = 0;
const timer = setTimeout(finish, 20_000);
socket.onReadable(() => {
  const n = socket.readBatch(rx, 4);
  reads++;
  for (let i = 0; i < n; i++) {
    const body = slotBytes(rx, i);
    if (rx.addrs[i] !== server || rx.ports[i] !== serverPort) wrongSource.push(`${rx.addrs[i]}:${rx.ports[i]}`);
    seen.set(body[0]!, body.toString('hex'));
  }
  if (seen.size === 64) finish();
});

function finish(): void {
  clearTimeout(timer);
  let intact = 0;
  for (const [i, hex] of sent) if (seen.get(i) === hex) intact++;
  const stop = createPacketBatch(1, 64);
  fillSlot(stop, 0, Buffer.from('stop'));
  stop.addrs[0] = server;
  stop.ports[0] = serverPort;
  socket.writeBatch(stop, 1);
  socket.close();
  console.log(JSON.stringify({ accepted, received: seen.size, intact, wrongSource, readsUsed: reads, localPortNonZero: socket.localPort > 0 }));
}
