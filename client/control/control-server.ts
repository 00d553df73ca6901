import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { CLIENT_STATE_FOLDER } from '../../shared/cli/state-folder-layout.js';
import { isTunnelError } from '../../shared/errors.js';
import {
  CONTROL_PROTOCOL_VERSION, MAX_CONTROL_LINE_BYTES, parseControlRequest,
  type ControlRequest, type ControlResponse,
} from './control-protocol.js';

/** What a process serves on its control socket. Throwing a TunnelError becomes an error reply. */
export type ControlHandler = (request: ControlRequest) => ControlResponse | Promise<ControlResponse>;

/** A listening control socket. */
export interface ControlServer {
  readonly path: string;
  /** Stops listening and removes the socket file. */
  close(): Promise<void>;
}

const IDLE_TIMEOUT_MS = 5_000;

/**
 * Listens on `path` (its folder created 0700, the socket 0600: only root or the owner may ask or
 * change anything). A malformed request gets an error reply and its connection closed; the server
 * and the tunnels keep running.
 */
export async function startControlServer(path: string, handler: ControlHandler): Promise<ControlServer> {
  mkdirSync(dirname(path), { recursive: true, mode: CLIENT_STATE_FOLDER.controlSockets.mode });
  // The name carries our own pid, so a file already there is a leftover of a dead process.
  rmSync(path, { force: true });
  const server = createServer((socket) => serveConnection(socket, handler));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, CLIENT_STATE_FOLDER.controlSocket.mode);
  return { path, close: () => closeServer(server, path) };
}

function serveConnection(socket: Socket, handler: ControlHandler): void {
  socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  let buffered = '';
  let answered = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    if (answered) return;
    buffered += chunk;
    const newline = buffered.indexOf('\n');
    if (newline === -1 && Buffer.byteLength(buffered) <= MAX_CONTROL_LINE_BYTES) return;
    answered = true;
    const line = newline === -1 ? null : buffered.slice(0, newline);
    void answer(line, handler).then((response) => socket.end(`${JSON.stringify(response)}\n`));
  });
}

async function answer(line: string | null, handler: ControlHandler): Promise<ControlResponse> {
  try {
    if (line === null) return refusal('ERR_MESSAGE_TOO_LARGE', `control request exceeds ${MAX_CONTROL_LINE_BYTES} bytes`);
    return await handler(parseControlRequest(line));
  } catch (err) {
    if (isTunnelError(err)) return refusal(err.code, err.message);
    return refusal('ERR_INTERNAL', err instanceof Error ? err.message : String(err));
  }
}

function refusal(code: string, message: string): ControlResponse {
  return { v: CONTROL_PROTOCOL_VERSION, ok: false, error: { code, message } };
}

function closeServer(server: Server, path: string): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    rmSync(path, { force: true });
  });
}
