/** Sends COUNT datagrams, 100 ms apart (a hello rate), to GROUP:PORT out of the interface with address IFADDR, TTL 1; prints {sent} once the last has left. */
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { scriptArgs } from './script-args.js';

const { group, ifaddr, port, count } = scriptArgs('group', 'ifaddr', 'port', 'count');
const socket = createSocket('udp4');
socket.bind(0, ifaddr, () => {
  void (async () => {
    socket.setMulticastTTL(1);
    socket.setMulticastInterface(ifaddr);
    for (let i = 0; i < Number(count); i++) {
      if (i > 0) await sleep(100);
      await new Promise((sent) => socket.send(`hello ${i}`, Number(port), group, sent));
    }
    socket.close();
    console.log(JSON.stringify({ sent: Number(count) }));
  })();
});
