import { readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { isControlSocketName } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';
import { MAX_CONTROL_LINE_BYTES, parseControlResponse, type ControlRequest, type ControlResponse } from './control-protocol.js';
import { controlSocketDir } from './control-socket-path.js';

const REQUEST_TIMEOUT_MS = 5_000;

/** Sends one request to the control socket at `path` and returns its reply. */
export function requestControl(path: string, request: ControlRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    const fail = (err: TunnelError | NodeJS.ErrnoException) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new TunnelError('ERR_TIMEOUT', `no reply from ${path} within ${timeoutMs} ms`)));
    socket.setEncoding('utf8');
    socket.on('error', fail);
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (Buffer.byteLength(buffered) > MAX_CONTROL_LINE_BYTES) fail(new TunnelError('ERR_MESSAGE_TOO_LARGE', `reply from ${path} is too large`));
    });
    socket.on('end', () => {
      try {
        resolve(parseControlResponse(buffered.split('\n', 1)[0] ?? ''));
      } catch (err) {
        reject(err as Error);
      } finally {
        socket.destroy();
      }
    });
  });
}

/** One process's answer (or why it gave none). */
export interface ProcessAnswer {
  path: string;
  response?: ControlResponse;
  error?: TunnelError;
}

/**
 * Sends `request` to every client process of the state folder. Sockets nobody listens on any more
 * (a process killed without cleanup) are removed; a process that fails to answer is reported.
 */
export async function requestAllProcesses(stateDir: string, request: ControlRequest): Promise<ProcessAnswer[]> {
  const dir = controlSocketDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir).filter(isControlSocketName).sort((x, y) => Number.parseInt(x, 10) - Number.parseInt(y, 10));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new TunnelError('ERR_STATE', `cannot read ${dir}: ${(err as Error).message}`);
  }
  const answers = await Promise.all(names.map(async (name): Promise<ProcessAnswer | null> => {
    const path = join(dir, name);
    try {
      return { path, response: await requestControl(path, request) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'ENOENT') {
        rmSync(path, { force: true });
        return null;
      }
      const error = err instanceof TunnelError ? err : new TunnelError('ERR_NOT_CONNECTED', `${path}: ${(err as Error).message}`);
      return { path, error };
    }
  }));
  return answers.filter((answer): answer is ProcessAnswer => answer !== null);
}
