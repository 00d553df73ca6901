import { chmodSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { HUB_STATE_FOLDER, hubStateFile } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';

/** The status socket path of a state folder. */
export function statusSocketPath(stateDir: string): string {
  return hubStateFile(stateDir, 'statusSocket');
}

/** A listening status socket. */
export interface StatusSocket {
  close(): Promise<void>;
}

/**
 * Serves the hub's live status on a UNIX socket only its owner may open: a client connects, the
 * hub writes one JSON line and closes. Nothing is read from the socket, so nothing can be injected.
 */
export async function openStatusSocket(path: string, snapshot: () => Promise<unknown>): Promise<StatusSocket> {
  rmSync(path, { force: true });
  const server: Server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    snapshot().then((value) => JSON.stringify(value), (err: unknown) => JSON.stringify({ error: { code: 'ERR_SYSTEM', message: (err as Error).message } }))
      .then((text) => socket.end(`${text}\n`), () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, HUB_STATE_FOLDER.statusSocket.mode);
  return {
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      rmSync(path, { force: true });
    }),
  };
}

/** Reads the live status from a running hub; undefined when no hub listens on `path`. */
export function readStatusSocket(path: string, timeoutMs = 5_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new TunnelError('ERR_TIMEOUT', `the hub did not answer on ${path} within ${timeoutMs} ms`));
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(new TunnelError('ERR_STATE', `cannot read ${path}: ${err.message}`));
    });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new TunnelError('ERR_PROTOCOL', `the hub's status on ${path} is not JSON`));
      }
    });
  });
}
