/** Sends COUNT datagrams, 100 ms apart, to the broadcast ADDRESS:PORT; prints {sent} once the last has left. */
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { scriptArgs } from './script-args.js';

const { address, port, count } = scriptArgs('address', 'port', 'count');
const socket = createSocket('udp4');
await new Promise((bound) => socket.bind(() => bound(undefined)));
socket.setBroadcast(true);
let sent = 0;
while (sent < Number(count)) {
  if (sent > 0) await sleep(100);
  await new Promise((done) => socket.send(`broadcast ${sent}`, Number(port), address, done));
  sent += 1;
}
socket.close();
console.log(JSON.stringify({ sent }));
