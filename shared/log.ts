import { pino, destination, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { TunnelError } from './errors.js';
import { LOG_LEVELS, type LogLevel } from './log-levels.js';
import { redactSecrets } from './redact-secrets.js';

/** How log lines are written: JSON (one object per line) or human-readable. */
export type LogFormat = 'json' | 'pretty';

/** Options of {@link createLogger}; every field has a default. */
export interface LoggerOptions {
  /** `--log-level`; else $TUNNEL_LOG_LEVEL; else info. */
  level?: string;
  /** Default: pretty when stderr (where logs go) is a terminal, JSON otherwise (journald, files, pipes). */
  format?: LogFormat;
  /** Where JSON lines go instead of stderr (tests read them). */
  destination?: DestinationStream;
}

/** Checks a `--log-level` value; ERR_INVALID_ARGUMENT names the levels there are. */
export function parseLogLevel(text: string, option = '--log-level'): LogLevel {
  const level = text.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} "${text}" must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return level as LogLevel;
}

/**
 * A logger on stderr (stdout stays for command output), with secrets redacted: human-readable on
 * a terminal, one JSON object per line everywhere else, so journald and log shippers get fields.
 */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const level = parseLogLevel(options.level ?? process.env.TUNNEL_LOG_LEVEL ?? 'info',
    options.level === undefined && process.env.TUNNEL_LOG_LEVEL !== undefined ? '$TUNNEL_LOG_LEVEL' : '--log-level');
  const format = options.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const settings = { name, level, formatters: { log: redactSecrets } };
  if (format === 'json') return pino(settings, options.destination ?? destination(2));
  // In-process and synchronous: no worker thread, and nothing is lost when the process exits.
  return pino(settings, pretty({
    destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname',
  }));
}
