import { isIP } from 'node:net';
import { TunnelError } from '../errors.js';

/** An address and port to listen on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `ADDR:PORT` (`127.0.0.1:9470`, `[::1]:9470`, `0.0.0.0:0` for any free port), as
 * `--admin-listen` and `--metrics` take it; ERR_INVALID_ARGUMENT says what is wrong.
 */
export function parseListenAddress(text: string, option: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || host === undefined || isIP(host) === 0) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} "${text.slice(0, 64)}" must be ADDR:PORT with an IP address, e.g. 127.0.0.1:9470 or [::1]:9470`);
  }
  if (!(port >= 0 && port <= 65535)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} "${text.slice(0, 64)}": the port must be from 0 to 65535`);
  }
  return { host, port };
}
