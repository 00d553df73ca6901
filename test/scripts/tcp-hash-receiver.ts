/**
 * TCP sink run in a namespace: listens on HOST:PORT, hashes everything one connection sends,
 * prints `ready` once listening and then {bytes, sha256}.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { scriptArgs } from './script-args.js';

/** What the receiver prints last. */
export interface TcpHashResult {
  bytes: number;
  sha256: string;
}

const { host, port } = scriptArgs('host', 'port');
const server = createServer((socket) => {
  const hash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  socket.on('end', () => {
    const result: TcpHashResult = { bytes, sha256: hash.digest('hex') };
    console.log(JSON.stringify(result));
    server.close();
  });
});
server.listen(Number(port), host, () => console.log('ready'));
