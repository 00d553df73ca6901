/**
 * Node scripts run inside namespaces (startNodeIn / runNodeIn) to push traffic through tunnels.
 * Each prints `ready` when listening and a JSON result as its last line.
 */

/** TCP sink: listens on argv[1]:argv[2], hashes everything one connection sends, prints {bytes, sha256}. */
export const TCP_HASH_RECEIVER = `
import { createServer } from 'node:net';
import { createHash } from 'node:crypto';
const [host, port] = process.argv.slice(1);
const server = createServer((socket) => {
  const hash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (chunk) => { bytes += chunk.length; hash.update(chunk); });
  socket.on('end', () => { console.log(JSON.stringify({ bytes, sha256: hash.digest('hex') })); server.close(); });
});
server.listen(Number(port), host, () => console.log('ready'));
`;

/** TCP source: sends argv[3] bytes of random data to argv[1]:argv[2], prints {bytes, sha256}. */
export const TCP_HASH_SENDER = `
import { connect } from 'node:net';
import { createHash, randomFillSync } from 'node:crypto';
const [host, port, total] = process.argv.slice(1);
const hash = createHash('sha256');
const socket = connect(Number(port), host);
let sent = 0;
const chunk = Buffer.alloc(64 * 1024);
function pump() {
  while (sent < Number(total)) {
    const n = Math.min(chunk.length, Number(total) - sent);
    const piece = Buffer.from(randomFillSync(chunk).subarray(0, n));
    hash.update(piece);
    sent += n;
    if (!socket.write(piece)) { socket.once('drain', pump); return; }
  }
  socket.end(() => console.log(JSON.stringify({ bytes: sent, sha256: hash.digest('hex') })));
}
socket.on('connect', pump);
`;

/** Joins multicast group argv[1] on interface address argv[2], port argv[3]; prints {from, text} of the first datagram. */
export const MULTICAST_RECEIVER = `
import { createSocket } from 'node:dgram';
const [group, ifaddr, port] = process.argv.slice(1);
const socket = createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (msg, rinfo) => { console.log(JSON.stringify({ from: rinfo.address, text: msg.toString() })); socket.close(); });
socket.bind(Number(port), () => { socket.addMembership(group, ifaddr); console.log('ready'); });
`;

/** Sends argv[4] datagrams, 100 ms apart, to group argv[1]:argv[3] out of interface address argv[2] with TTL 1. */
export const MULTICAST_SENDER = `
import { createSocket } from 'node:dgram';
const [group, ifaddr, port, count] = process.argv.slice(1);
const socket = createSocket('udp4');
socket.bind(0, ifaddr, async () => {
  socket.setMulticastTTL(1);
  socket.setMulticastInterface(ifaddr);
  for (let i = 0; i < Number(count); i++) {
    await new Promise((r) => socket.send('hello ' + i, Number(port), group, r));
    await new Promise((r) => setTimeout(r, 100));
  }
  socket.close();
  console.log(JSON.stringify({ sent: Number(count) }));
});
`;

/**
 * Sends argv[3] malformed outer packets from local address argv[1] toward argv[2]: over a raw GRE
 * or IPIP socket (argv[4] = 47 or 4, through the project's native addon at argv[5]) or as UDP to
 * port argv[4] (anything else). Prints {sent}.
 */
export const GARBAGE_SENDER = `
const [local, remote, count, kind, nativeUrl] = process.argv.slice(1);
const n = Number(count);
const garbage = (i) => {
  const b = Buffer.alloc(8 + (i % 40));
  for (let j = 0; j < b.length; j++) b[j] = (i * 131 + j * 29) & 0xff;
  // IPIP: IP version 0. GRE/FOU: the C and R bits (R must be discarded). GUE: variant 3.
  b[0] = kind === '4' ? 0x00 : 0xc0;
  return b;
};
if (kind === '47' || kind === '4') {
  const native = await import(nativeUrl);
  const socket = native.openRawSocket(Number(kind), local);
  const batch = native.createPacketBatch(1, 2048);
  const target = remote.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  for (let i = 0; i < n; i++) {
    const b = garbage(i);
    b.copy(batch.data, 0);
    batch.offsets[0] = 0; batch.lengths[0] = b.length; batch.addrs[0] = target; batch.ports[0] = 0;
    socket.writeBatch(batch, 1);
    await new Promise((r) => setTimeout(r, 2));
  }
  socket.close();
} else {
  const { createSocket } = await import('node:dgram');
  const socket = createSocket('udp4');
  await new Promise((r) => socket.bind(0, local, r));
  for (let i = 0; i < n; i++) {
    await new Promise((r) => socket.send(garbage(i), Number(kind), remote, r));
    await new Promise((r) => setTimeout(r, 2));
  }
  socket.close();
}
console.log(JSON.stringify({ sent: n }));
`;
