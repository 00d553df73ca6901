/**
 * Sends an ESP-in-UDP port what our hellos and acks look like (RFC 3948's non-ESP marker, then a
 * fou-framed hello with its HMAC) and a NAT keepalive (0xFF), three times each, from FROM (any
 * port) to TO:PORT. Prints { sent }.
 */
import { createSocket } from 'node:dgram';
import { writeNonEspMarker } from '../../shared/wire/esp.js';
import { sealUdpHelloFrame } from '../../shared/wire/udp-hello.js';
import { scriptArgs } from './script-args.js';

const { from, to, port } = scriptArgs('from', 'to', 'port');
const socket = createSocket('udp4');
await new Promise<void>((bound) => socket.bind(0, from, () => bound()));
const hello = Buffer.alloc(64);
const marker = writeNonEspMarker(hello, 0);
const length = marker + sealUdpHelloFrame(hello, marker, { encap: 'fou', greKey: null },
  { kind: 'hello', bindingId: 7, counter: 1n, view: null }, Buffer.alloc(32, 7));
const send = (bytes: Buffer): Promise<void> => new Promise((resolve, reject) => {
  socket.send(bytes, Number(port), to, (err) => (err ? reject(err) : resolve()));
});
for (let i = 0; i < 3; i++) {
  await send(hello.subarray(0, length));
  await send(Buffer.from([0xff]));
}
socket.close();
console.log(JSON.stringify({ sent: 6 }));
