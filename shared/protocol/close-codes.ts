import type { TunnelErrorCode } from '../errors.js';

/**
 * WebSocket close codes (4000-4999 is the application range) and HTTP statuses for refusals.
 * The status says how to react (retry or not); the TunnelErrorCode travels beside it in the
 * `error` message, the close reason, or the `x-tunnel-error` header.
 */
export const WS_CLOSE = {
  /** Normal end of a session (shutdown, replaced by a newer session of the same peer). */
  normal: 1000,
  /** The hub is going away; reconnect with backoff. */
  goingAway: 1001,
  /** A message broke the protocol (malformed, out of order, unsupported version). */
  protocol: 4400,
  /** Credentials refused. Retrying with the same credentials will not help. */
  unauthorized: 4401,
  /** A message was larger than MAX_MESSAGE_BYTES. */
  tooLarge: 4413,
  /** The other side stopped answering within the liveness timeout. */
  timeout: 4408,
  /** The hub failed internally; retry later. */
  internal: 4500,
} as const;

const AUTH_CODES: ReadonlySet<TunnelErrorCode> = new Set([
  'ERR_TOKEN_INVALID', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_REVOKED', 'ERR_TOKEN_USED',
  'ERR_SSH_KEY_INVALID', 'ERR_SSH_KEY_UNKNOWN', 'ERR_UNAUTHENTICATED', 'ERR_PEER_NOT_FOUND',
]);

/** True for the codes that mean "these credentials are refused": a client stops retrying on them. */
export function isAuthRefusal(code: string): boolean {
  return AUTH_CODES.has(code as TunnelErrorCode);
}

/** The WebSocket close code a session ends with after an error of this code. */
export function wsCloseCodeFor(code: string): number {
  if (isAuthRefusal(code)) return WS_CLOSE.unauthorized;
  if (code === 'ERR_MESSAGE_TOO_LARGE') return WS_CLOSE.tooLarge;
  if (code === 'ERR_TIMEOUT') return WS_CLOSE.timeout;
  if (code === 'ERR_PROTOCOL' || code === 'ERR_UNSUPPORTED_VERSION') return WS_CLOSE.protocol;
  return WS_CLOSE.internal;
}

/** The HTTP status the WebSocket upgrade is refused with for an error of this code. */
export function httpStatusFor(code: string): number {
  if (isAuthRefusal(code)) return 401;
  if (code === 'ERR_PEER_EXISTS' || code === 'ERR_SSH_KEY_IN_USE' || code === 'ERR_POOL_EXHAUSTED') return 409;
  if (code === 'ERR_INVALID_ARGUMENT' || code === 'ERR_PROTOCOL') return 400;
  // The hub is fine but cannot reach its registry: try again soon (another hub shares the same registry).
  if (code === 'ERR_REGISTRY_UNAVAILABLE') return 503;
  return 500;
}

/** The HTTP header that carries the TunnelErrorCode of a refused upgrade. */
export const ERROR_HEADER = 'x-tunnel-error';
