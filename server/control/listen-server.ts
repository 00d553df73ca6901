import type { Server } from 'node:net';

/** Starts `server` listening and resolves once bound; a bind failure (EADDRINUSE…) rejects. */
export function listenServer(server: Pick<Server, 'once' | 'off' | 'listen'>, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
