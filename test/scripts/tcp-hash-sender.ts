/** TCP source run in a namespace: sends BYTES bytes of random data to HOST:PORT, prints {bytes, sha256}. */
import { createHash, randomFillSync } from 'node:crypto';
import { connect } from 'node:net';
import { scriptArgs } from './script-args.js';
import type { TcpHashResult } from './tcp-hash-receiver.js';

const { host, port, bytes } = scriptArgs('host', 'port', 'bytes');
const total = Number(bytes);
const hash = createHash('sha256');
const socket = connect(Number(port), host);
let sent = 0;
const chunk = Buffer.alloc(64 * 1024);

function pump(): void {
  while (sent < total) {
    const n = Math.min(chunk.length, total - sent);
    const piece = Buffer.from(randomFillSync(chunk).subarray(0, n));
    hash.update(piece);
    sent += n;
    if (!socket.write(piece)) {
      socket.once('drain', pump);
      return;
    }
  }
  socket.end(() => {
    const result: TcpHashResult = { bytes: sent, sha256: hash.digest('hex') };
    console.log(JSON.stringify(result));
  });
}

socket.on('connect', pump);
