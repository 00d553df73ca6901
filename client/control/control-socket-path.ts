import { clientStateFile, controlSocketFile } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';

/** Longest path a UNIX socket address holds (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/** The folder holding one control socket per running client process: `<state>/run`. */
export function controlSocketDir(stateDir: string): string {
  return clientStateFile(stateDir, 'controlSockets');
}

/** The control socket of process `pid`: `<state>/run/<pid>.sock`. */
export function controlSocketPath(stateDir: string, pid: number): string {
  const path = controlSocketFile(stateDir, pid);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new TunnelError('ERR_INVALID_CONFIG', `control socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter --state folder`);
  }
  return path;
}
