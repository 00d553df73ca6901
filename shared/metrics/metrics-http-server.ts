import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { TunnelError } from '../errors.js';
import type { ListenAddress } from '../cli/parse-listen-address.js';

/** A listening `/metrics` endpoint. */
export interface MetricsHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Scrapers get this long to send their request; nothing else is served. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Serves `GET /metrics` (Prometheus text format) on `listen` and nothing else: the member's
 * `--metrics ADDR:PORT`. A port in use is ERR_SYSTEM naming the flag.
 */
export async function openMetricsHttpServer(listen: ListenAddress, metrics: { metrics(): Promise<string>; readonly contentType: string }, log: Logger): Promise<MetricsHttpServer> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(request.method === 'GET' ? 404 : 405, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('GET /metrics only\n');
      return;
    }
    metrics.metrics().then((text) => {
      response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
      response.end(text);
    }, (err: unknown) => {
      log.warn({ err: (err as Error).message }, 'metrics scrape failed');
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('internal error\n');
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new TunnelError('ERR_SYSTEM', `--metrics ${listen.host}:${listen.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`)));
    server.listen(listen.port, listen.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
