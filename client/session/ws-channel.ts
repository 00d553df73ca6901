import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { TunnelError, type TunnelErrorCode } from '../../shared/errors.js';
import { ERROR_HEADER, JOIN_HEADERS, MAX_MESSAGE_BYTES, PATH_LIVENESS, WS_CLOSE, offersPathLiveness } from '../../shared/protocol/index.js';
import type { ClientChannel, ClientChannelEvents } from './client-channel.js';

/** How to reach the hub over WebSocket. */
export interface WsTarget {
  /** ws:// or wss:// URL of the hub. */
  url: string;
  /** Extra CA certificate (PEM) to trust for wss://, e.g. a hub's self-signed one. */
  ca?: Buffer;
  /** The name TLS checks the certificate against (and sends as SNI) when `url` names an address. */
  servername?: string;
}

const CONNECT_TIMEOUT_MS = 10_000;
/** How long a closing channel waits for the hub's close handshake before dropping the socket. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Opens a WebSocket to the hub with the given upgrade headers (bearer token, join details). A
 * refused upgrade rejects with the hub's TunnelErrorCode from the `x-tunnel-error` header.
 */
export function openWsChannel(target: WsTarget, headers: Record<string, string>, events: ClientChannelEvents): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(target.url, {
      headers, maxPayload: MAX_MESSAGE_BYTES, handshakeTimeout: CONNECT_TIMEOUT_MS,
      ...(target.ca ? { ca: target.ca } : {}),
      ...(target.servername !== undefined ? { servername: target.servername } : {}),
    });
    let localAddress: string | null = null;
    let hubId: string | null = null;
    let pathLiveness = false;
    let opened = false;
    let lastError: TunnelError | undefined;

    ws.on('upgrade', (response: IncomingMessage) => {
      localAddress = stripMapped(response.socket.localAddress);
      const announced = response.headers[JOIN_HEADERS.hubId];
      hubId = typeof announced === 'string' ? announced : null;
      pathLiveness = offersPathLiveness(response.headers[PATH_LIVENESS.header]);
    });
    ws.on('unexpected-response', (_request, response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => {
        if (chunks.length < 16) chunks.push(chunk);
      });
      response.on('end', () => {
        reject(refusalFrom(response, Buffer.concat(chunks).toString('utf8')));
        ws.terminate();
      });
      response.on('error', () => ws.terminate());
    });
    ws.on('open', () => {
      opened = true;
      resolve({
        localAddress,
        hubId,
        pathLiveness,
        send: (text) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(text);
        },
        close: () => {
          ws.close(WS_CLOSE.normal);
          // A hub that stopped answering never returns the close frame; ws would wait 30 s.
          setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
        },
      });
    });
    ws.on('message', (data: Buffer | Buffer[] | ArrayBuffer) => {
      events.message(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
    });
    ws.on('error', (err: Error & { code?: string }) => {
      lastError = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
        ? new TunnelError('ERR_MESSAGE_TOO_LARGE', 'the hub sent an oversized message')
        : new TunnelError('ERR_NOT_CONNECTED', `cannot reach the hub at ${target.url}: ${err.message}`);
      if (!opened) reject(lastError);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (!opened) {
        reject(lastError ?? new TunnelError('ERR_NOT_CONNECTED', `the hub closed the connection (${code})`));
        return;
      }
      events.closed(lastError ?? closeError(code, reason.toString('utf8')));
    });
  });
}

function refusalFrom(response: IncomingMessage, body: string): TunnelError {
  const header = response.headers[ERROR_HEADER];
  const code = (typeof header === 'string' && /^ERR_[A-Z_]+$/.test(header) ? header : 'ERR_UNAUTHENTICATED') as TunnelErrorCode;
  let message = `the hub refused the connection (HTTP ${response.statusCode ?? '?'})`;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message.slice(0, 300);
  } catch {
    // not our hub, or a proxy's page: keep the generic message
  }
  return new TunnelError(code, message);
}

function closeError(code: number, reason: string): TunnelError | undefined {
  if (code === WS_CLOSE.normal || code === WS_CLOSE.goingAway) return undefined;
  const named = /^ERR_[A-Z_]+$/.test(reason) ? (reason as TunnelErrorCode) : undefined;
  if (code === 1009) return new TunnelError('ERR_MESSAGE_TOO_LARGE', 'the hub refused an oversized message');
  return new TunnelError(named ?? 'ERR_NOT_CONNECTED', `the hub closed the session (${code}${reason ? ` ${reason}` : ''})`);
}

function stripMapped(address: string | undefined): string | null {
  if (address === undefined) return null;
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
