/** Joins multicast GROUP on the interface with address IFADDR, port PORT; prints `ready`, then {from, text} of the first datagram. */
import { createSocket } from 'node:dgram';
import { scriptArgs } from './script-args.js';

/** What the receiver prints: the first datagram's source and text. */
export interface DatagramSeen {
  from: string;
  text: string;
}

const { group, ifaddr, port } = scriptArgs('group', 'ifaddr', 'port');
const socket = createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (msg, rinfo) => {
  const seen: DatagramSeen = { from: rinfo.address, text: msg.toString() };
  console.log(JSON.stringify(seen));
  socket.close();
});
socket.bind(Number(port), () => {
  socket.addMembership(group, ifaddr);
  console.log('ready');
});
