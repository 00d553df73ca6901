import { chmodSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { HUB_STATE_FOLDER, hubStateFile } from '../../shared/cli/state-folder-layout.js';
import { TunnelError, isTunnelError, type TunnelErrorCode } from '../../shared/errors.js';
import { WHOLE_STATUS, encodeStatusRequest, type StatusRequest } from './status-request.js';

/** The status socket path of a state folder. */
export function statusSocketPath(stateDir: string): string {
  return hubStateFile(stateDir, 'statusSocket');
}

/** A listening status socket. */
export interface StatusSocket {
  close(): Promise<void>;
}

/** A request is one short line. */
const MAX_REQUEST_BYTES = 1024;
/** A client that has sent nothing by then speaks the first protocol (it only reads): it gets the whole status. */
const REQUEST_WAIT_MS = 2_000;

/**
 * Serves the hub's live status on a UNIX socket only its owner may open: a client writes one
 * request line ({@link StatusRequest}) and half-closes, the hub writes one JSON line and closes.
 * The request is bounded and validated; a refused one gets `{"error":{"code","message"}}`.
 */
export async function openStatusSocket(path: string, answer: (request: StatusRequest) => Promise<unknown>): Promise<StatusSocket> {
  // Imported here, by the hub: the decoder's zod is not what a CLI reading the socket should load.
  const { decodeStatusRequest } = await import('./decode-status-request.js');
  rmSync(path, { force: true });
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    readRequest(socket, decodeStatusRequest).then(answer)
      .then((value) => JSON.stringify(value), (err: unknown) => JSON.stringify({ error: isTunnelError(err) ? { code: err.code, message: err.message } : { code: 'ERR_SYSTEM', message: (err as Error).message } }))
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

/** The client's request: its first line, or all it sent before half-closing. */
function readRequest(socket: Socket, decodeStatusRequest: (line: string) => StatusRequest): Promise<StatusRequest> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (result: () => StatusRequest): void => {
      clearTimeout(wait);
      socket.removeAllListeners('data').removeAllListeners('end');
      try {
        resolve(result());
      } catch (err) {
        reject(err);
      }
    };
    const wait = setTimeout(() => done(() => (text === '' ? WHOLE_STATUS : decodeStatusRequest(text))), REQUEST_WAIT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end !== -1) done(() => decodeStatusRequest(text.slice(0, end)));
      else if (text.length > MAX_REQUEST_BYTES) done(() => decodeStatusRequest(''));
    });
    socket.on('end', () => done(() => (text.trim() === '' ? WHOLE_STATUS : decodeStatusRequest(text))));
  });
}

/** Asks the running hub on `path`; undefined when no hub listens there. A hub's refusal is its TunnelError. */
export async function readStatusSocket(path: string, request: StatusRequest = WHOLE_STATUS, timeoutMs = 5_000): Promise<unknown> {
  const text = await readStatusSocketText(path, request, timeoutMs);
  return text === undefined ? undefined : parseStatusAnswer(path, text);
}

/**
 * The running hub's answer on `path` as it wrote it, one JSON line ending with a newline (a line
 * cut short lacks it); undefined when no hub listens there. {@link parseStatusAnswer} reads it.
 */
export function readStatusSocketText(path: string, request: StatusRequest = WHOLE_STATUS, timeoutMs = 5_000): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new TunnelError('ERR_TIMEOUT', `the hub did not answer on ${path} within ${timeoutMs} ms`));
    });
    socket.on('connect', () => socket.end(encodeStatusRequest(request)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(new TunnelError('ERR_STATE', `cannot read ${path}: ${err.message}`));
    });
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** The value of a hub's answer read from `path`; its refusal is its TunnelError, anything but JSON ERR_PROTOCOL. */
export function parseStatusAnswer(path: string, text: string): unknown {
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new TunnelError('ERR_PROTOCOL', `the hub's status on ${path} is not JSON`);
  }
  const refusal = (answer as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (refusal && typeof refusal.code === 'string' && typeof refusal.message === 'string') throw new TunnelError(refusal.code as TunnelErrorCode, refusal.message);
  return answer;
}
