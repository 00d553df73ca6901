import { pino, destination, type Logger } from 'pino';

/** Field paths that may hold secrets; pino replaces their values before anything is written. */
const SECRET_PATHS = [
  'token', '*.token', 'key', '*.key', 'privateKey', '*.privateKey', 'secret', '*.secret',
  'sessionKey', '*.sessionKey', 'authorization', '*.authorization', 'password', '*.password',
];

/** A JSON logger on stderr (stdout stays for command output), with secrets redacted. */
export function createLogger(name: string, level = process.env.TUNNEL_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, redact: { paths: SECRET_PATHS, censor: '[redacted]' } }, destination(2));
}
