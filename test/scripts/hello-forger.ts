/**
 * From a third host, bound to PORT itself: sends FORGED hellos for binding BINDING_ID with random
 * MACs and then REPLAYS copies of the captured hello CAPTURED (hex) to HOST:PORT, each behind the
 * FRAMING bytes (hex); keeps the socket open 500 ms more, so an answer would find it. Prints {sent}.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { scriptArgs } from './script-args.js';

const { host, port, forged, replays, bindingId, framing, captured } = scriptArgs('host', 'port', 'forged', 'replays', 'bindingId', 'framing', 'captured');
const socket = createSocket('udp4');
await new Promise((bound) => socket.bind(Number(port), () => bound(undefined)));
const send = (bytes: Buffer): Promise<unknown> => new Promise((sent) => socket.send(bytes, Number(port), host, sent));
for (let i = 0; i < Number(forged); i++) {
  const body = Buffer.alloc(44);
  body.write('THLO', 0);
  body[4] = 1;
  body.writeUInt32BE(Number(bindingId), 8);
  randomBytes(8).copy(body, 12);
  randomBytes(16).copy(body, 28);
  await send(Buffer.concat([Buffer.from(framing, 'hex'), body]));
}
for (let i = 0; i < Number(replays); i++) await send(Buffer.from(captured, 'hex'));
await sleep(500);
socket.close();
console.log(JSON.stringify({ sent: Number(forged) + Number(replays) }));
