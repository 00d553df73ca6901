/** The levels `--log-level` takes, most to least verbose, and `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The help line of `--log-level`, the same on every command that logs. */
export const LOG_LEVEL_HELP = `how much to log: ${LOG_LEVELS.join(', ')} (default: $TUNNEL_LOG_LEVEL, else info); human-readable on a terminal, JSON lines otherwise`;
