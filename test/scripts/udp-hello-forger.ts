/**
 * From a third host: sends 50 hellos for binding BINDING_ID to HUB:4754 (FOU), each sealed with a
 * random key (so its MAC is wrong) and a counter far ahead, 20 ms apart, then listens 1.5 s more
 * for any answer. Prints {received}: how many datagrams came back (none should).
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { sealUdpHelloFrame } from '../../shared/wire/udp-hello.js';
import { scriptArgs } from './script-args.js';

const { hub, bindingId } = scriptArgs('hub', 'bindingId');
const socket = createSocket('udp4');
let received = 0;
socket.on('message', () => {
  received += 1;
});
await new Promise((bound) => socket.bind(0, () => bound(undefined)));
for (let i = 0; i < 50; i++) {
  const frame = new Uint8Array(64);
  const length = sealUdpHelloFrame(frame, 0, { encap: 'fou', greKey: null },
    { kind: 'hello', bindingId: Number(bindingId), counter: (1n << 40n) + BigInt(i), view: null }, randomBytes(32));
  socket.send(frame.subarray(0, length), 4754, hub);
  await sleep(20);
}
await sleep(1500);
socket.close();
console.log(JSON.stringify({ received }));
