/** Receives one UDP datagram on PORT (any address, so broadcasts too); prints `ready`, then {from, text}. */
import { createSocket } from 'node:dgram';
import type { DatagramSeen } from './multicast-receiver.js';
import { scriptArgs } from './script-args.js';

const { port } = scriptArgs('port');
const socket = createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (msg, rinfo) => {
  const seen: DatagramSeen = { from: rinfo.address, text: msg.toString() };
  console.log(JSON.stringify(seen));
  socket.close();
});
socket.bind(Number(port), '0.0.0.0', () => console.log('ready'));
