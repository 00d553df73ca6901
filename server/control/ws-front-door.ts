import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import { TunnelError, isTunnelError } from '../../shared/errors.js';
import {
  ERROR_HEADER, JOIN_HEADERS, MAX_MESSAGE_BYTES, PATH_LIVENESS, WS_CLOSE, httpStatusFor, isAuthRefusal, offersPathLiveness, wsCloseCodeFor,
} from '../../shared/protocol/index.js';
import type { AuthenticatedPeer } from './authenticated-peer.js';
import type { ControlSession } from './control-session.js';
import { sessionRefused } from './diagnostics.js';
import { remoteOuterAddress } from './remote-outer-address.js';
import type { SessionTransport } from './session-transport.js';
import type { ConnectionGate } from './connection-gate.js';

/** Where and how the WebSocket front door listens, and whom it hands connections to. */
export interface WsFrontDoorOptions {
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer };
  /** The hub's id, sent on every accepted upgrade: the audience of the member's own tokens. */
  hubId: string;
  /** Decides, from the upgrade request alone, which peer the connection speaks for; throws a TunnelError to refuse. */
  authenticate(request: IncomingMessage, remoteAddress: string): Promise<AuthenticatedPeer>;
  /** Creates the session for an authenticated connection. */
  attach(peer: AuthenticatedPeer, transport: SessionTransport): ControlSession;
  /** Accept a member's offer of path-proven liveness (the hub's datapath can tell its tunnels' liveness). */
  acceptPathLiveness?: boolean;
  /** Plain HTTP requests served on the same listener, by exact path (the dyndns2 update). */
  routes?: ReadonlyMap<string, RequestListener>;
  /** The listener with the door's limits (rate, caps, deadlines, failed-login waits). */
  gate: ConnectionGate;
  log: Logger;
}

/** A listening WebSocket front door. */
export interface WsFrontDoor {
  readonly port: number;
  readonly tls: boolean;
  close(): Promise<void>;
}

/**
 * The WebSocket front door: credentials are checked at the HTTP upgrade, so a refused client never
 * gets a session (HTTP 401 with the TunnelErrorCode in `x-tunnel-error` and a JSON body). Accepted
 * connections carry one JSON message per WebSocket message into a ControlSession.
 */
export async function openWsFrontDoor(options: WsFrontDoorOptions): Promise<WsFrontDoor> {
  const server: HttpServer = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key })
    : createHttpServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const pathLivenessOf = (request: IncomingMessage): boolean =>
    options.acceptPathLiveness === true && offersPathLiveness(request.headers[PATH_LIVENESS.header]);
  wss.on('headers', (headers: string[], request: IncomingMessage) => {
    headers.push(`${JOIN_HEADERS.hubId}: ${options.hubId}`);
    if (pathLivenessOf(request)) headers.push(`${PATH_LIVENESS.header}: ${PATH_LIVENESS.value}`);
  });
  const sockets = new Set<Socket>();

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (req, res) => {
    const route = options.routes?.get(pathOf(req.url));
    if (route) {
      route(req, res);
      return;
    }
    res.writeHead(426, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ code: 'ERR_PROTOCOL', message: 'this endpoint speaks the tunnel control protocol over WebSocket only' }));
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    void upgrade(request, socket, head);
  });

  async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let peer: AuthenticatedPeer;
    let remoteAddress = request.socket.remoteAddress ?? 'unknown';
    try {
      remoteAddress = remoteOuterAddress(request.socket.remoteAddress);
      peer = await options.authenticate(request, remoteAddress);
    } catch (err) {
      const refusal = isTunnelError(err) ? err : new TunnelError('ERR_SYSTEM', 'authentication failed internally');
      if (!isTunnelError(err)) options.log.error({ err }, 'websocket authentication failed internally');
      sessionRefused.publish({ transport: 'ws', code: refusal.code, remoteAddress });
      options.log.info({ code: refusal.code, remoteAddress }, 'websocket connection refused');
      if (isAuthRefusal(refusal.code)) options.gate.loginFailed(remoteAddress, refusal.code);
      refuse(socket, refusal);
      return;
    }
    if (socket.destroyed) return;
    options.gate.loginSucceeded(remoteAddress);
    wss.handleUpgrade(request, socket, head, (ws) => {
      // Only now: taking the socket over, ws turns its timeout off, which would end the idle deadline.
      options.gate.established(request.socket.remoteAddress, request.socket.remotePort);
      bind(ws, socket, peer, remoteAddress, pathLivenessOf(request));
    });
  }

  function bind(ws: WebSocket, socket: Duplex, peer: AuthenticatedPeer, remoteAddress: string, pathLiveness: boolean): void {
    const transport: SessionTransport = {
      kind: 'ws',
      encrypted: options.tls !== undefined,
      remoteAddress,
      pathLiveness,
      send: (text) => {
        if (ws.readyState === ws.OPEN) ws.send(text);
      },
      sendTogether: (texts) => {
        if (ws.readyState !== ws.OPEN) return;
        // ws writes each frame at once; with the socket corked around them they leave in one writev.
        socket.cork();
        try {
          for (const text of texts) ws.send(text);
        } finally {
          socket.uncork();
        }
      },
      close: (error) => {
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
          ws.close(error ? wsCloseCodeFor(error.code) : WS_CLOSE.normal, error?.code ?? '');
        }
      },
    };
    const session = options.attach(peer, transport);
    ws.on('message', (data: Buffer | Buffer[] | ArrayBuffer) => session.receive(asBuffer(data)));
    // ws refuses frames over maxPayload itself (close 1009); the session records why it ended.
    ws.on('error', (err: Error & { code?: string }) => {
      session.close(err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
        ? new TunnelError('ERR_MESSAGE_TOO_LARGE', `message exceeds ${MAX_MESSAGE_BYTES} bytes`)
        : new TunnelError('ERR_PROTOCOL', `websocket error: ${err.message}`));
    });
    ws.on('close', () => session.close());
  }

  // The gate listens and hands over what it admits; the HTTP(S) server itself never listens.
  const port = await options.gate.listen(options.host, options.port, (socket) => server.emit('connection', socket));

  return {
    port,
    tls: options.tls !== undefined,
    close: async () => {
      await options.gate.close();
      for (const ws of wss.clients) ws.close(WS_CLOSE.goingAway, 'hub shutting down');
      wss.close();
      server.close();
      // Waits for the connections to end; clients that do not answer the close handshake must
      // not hold shutdown up.
      await new Promise<void>((resolve) => {
        const settle = (): void => {
          if (sockets.size === 0) resolve();
        };
        for (const socket of sockets) socket.once('close', () => setImmediate(settle));
        settle();
        setTimeout(() => {
          for (const socket of sockets) socket.destroy();
          resolve();
        }, 500).unref();
      });
    },
  };
}

function refuse(socket: Duplex, error: TunnelError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ code: error.code, message: error.message });
  const status = httpStatusFor(error.code);
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Refused'}\r\n`
    + `${ERROR_HEADER}: ${error.code}\r\ncontent-type: application/json\r\n`
    + `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function pathOf(url: string | undefined): string {
  const query = (url ?? '').indexOf('?');
  return query < 0 ? (url ?? '') : (url ?? '').slice(0, query);
}

function asBuffer(data: Buffer | Buffer[] | ArrayBuffer): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
