import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionGate } from '../control/connection-gate.js';
import type { AdminTokenCheck } from './admin-token.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './status-page.js';
import { StatusStream } from './status-stream.js';
import type { StatusView } from './status-view.js';

/** The cookie a browser keeps the admin token in after opening `/?token=…` once. */
const TOKEN_COOKIE = 'tunnel_admin';
/** A request must arrive whole within this long (slowloris on a kept-alive connection). */
const REQUEST_TIMEOUT_MS = 10_000;

/** Where and what the admin listener serves. */
export interface AdminServerOptions {
  host: string;
  port: number;
  /** The listener with the admin door's limits. */
  gate: ConnectionGate;
  tls?: { cert: Buffer; key: Buffer };
  /** Set when the listener is reachable from other machines: every request must carry the token. */
  token?: AdminTokenCheck;
  metrics: { metrics(): Promise<string>; readonly contentType: string };
  view(): Promise<StatusView>;
  log: Logger;
}

/** A listening admin server. */
export interface AdminServer {
  readonly port: number;
  readonly tls: boolean;
  /** The live page's event stream; nudge it when something changed. */
  readonly stream: StatusStream;
  close(): Promise<void>;
}

/**
 * The admin listener: `/metrics` (Prometheus text format), `/` the live status page, `/events` its
 * stream and `/status.json` one sample. Read-only: GET and HEAD only. Off loopback it asks for the
 * admin token (`Authorization: Bearer`, or the cookie `/?token=…` sets), and a wrong token counts
 * as a failed login at the gate.
 */
export async function openAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const stream = new StatusStream(options.view, options.log);
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }) : createHttpServer();
  // The gate times the first request; the next ones on a kept-alive connection get as long.
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    void handle(request, response).catch((err: unknown) => {
      options.log.warn({ err: (err as Error).message, path: request.url?.slice(0, 64) }, 'admin request failed');
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      send(response, 405, 'text/plain; charset=utf-8', 'read-only: GET and HEAD only\n');
      return;
    }
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://admin.invalid');
    } catch {
      send(response, 400, 'text/plain; charset=utf-8', 'bad request\n');
      return;
    }
    const remote = request.socket.remoteAddress ?? '';
    if (options.token) {
      const offered = url.pathname === '/' ? url.searchParams.get('token') : null;
      if (offered !== null) {
        if (!options.token.matches(offered)) {
          refuse(response, remote, 'a wrong admin token');
          return;
        }
        // The token moves into a cookie and out of the address bar (and history).
        response.setHeader('set-cookie', `${TOKEN_COOKIE}=${offered}; Path=/; HttpOnly; SameSite=Strict${options.tls ? '; Secure' : ''}`);
        response.setHeader('location', '/');
        send(response, 303, 'text/plain; charset=utf-8', 'see /\n');
        return;
      }
      const presented = presentedToken(request);
      if (presented === undefined) {
        response.setHeader('www-authenticate', 'Bearer realm="tunnel-hub admin"');
        send(response, 401, 'text/plain; charset=utf-8', 'the admin token is needed: on the hub, `tunnel-hub admin-token` prints it; open /?token=TOKEN once, or send Authorization: Bearer TOKEN\n');
        return;
      }
      if (!options.token.matches(presented)) {
        refuse(response, remote, 'a wrong admin token');
        return;
      }
      options.gate.loginSucceeded(remote);
    }
    options.gate.established(remote, request.socket.remotePort);
    switch (url.pathname) {
      case '/':
        response.setHeader('content-security-policy', STATUS_PAGE_CSP);
        response.setHeader('x-frame-options', 'DENY');
        response.setHeader('referrer-policy', 'no-referrer');
        send(response, 200, 'text/html; charset=utf-8', STATUS_PAGE_HTML);
        return;
      case '/events':
        stream.add(response, lastEventId(request));
        return;
      case '/status.json':
        send(response, 200, 'application/json', `${JSON.stringify(await options.view())}\n`);
        return;
      case '/metrics':
        send(response, 200, options.metrics.contentType, await options.metrics.metrics());
        return;
      default:
        send(response, 404, 'text/plain; charset=utf-8', 'not found: / (status page), /events, /status.json, /metrics\n');
    }
  }

  function refuse(response: ServerResponse, remote: string, what: string): void {
    options.gate.loginFailed(remote, 'ERR_UNAUTHENTICATED');
    options.log.info({ remoteAddress: remote }, `admin request with ${what}`);
    response.setHeader('www-authenticate', 'Bearer realm="tunnel-hub admin", error="invalid_token"');
    send(response, 401, 'text/plain; charset=utf-8', 'wrong admin token\n');
  }

  // The server never listens itself (the gate does), so it tracks no connections: keep them here.
  const sockets = new Set<Socket>();
  const port = await options.gate.listen(options.host, options.port, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    server.emit('connection', socket);
  });
  return {
    port,
    tls: options.tls !== undefined,
    stream,
    close: async () => {
      await options.gate.close();
      stream.close();
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

function presentedToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, value] = part.trim().split('=');
    if (name === TOKEN_COOKIE && value) return value;
  }
  return undefined;
}

/** The id of the last event a reconnecting EventSource saw (one header, else none). */
function lastEventId(request: IncomingMessage): string | undefined {
  const header = request.headers['last-event-id'];
  return typeof header === 'string' ? header : undefined;
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
