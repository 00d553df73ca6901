/** Every error code the project raises; callers narrow on `code`, never on message text. */
export type TunnelErrorCode =
  // input and configuration
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INVALID_CIDR'
  | 'ERR_INVALID_ADDRESS'
  | 'ERR_INVALID_CONFIG'
  | 'ERR_STATE'
  // registry
  | 'ERR_NOT_INITIALIZED'
  | 'ERR_POOL_EXISTS'
  | 'ERR_POOL_OVERLAP'
  | 'ERR_POOL_TOO_SMALL'
  | 'ERR_POOL_IN_USE'
  | 'ERR_POOL_NOT_FOUND'
  | 'ERR_POOL_EXHAUSTED'
  | 'ERR_PEER_EXISTS'
  | 'ERR_PEER_NOT_FOUND'
  | 'ERR_LINK_EXISTS'
  | 'ERR_LINK_NOT_FOUND'
  | 'ERR_SHORTCUTS_OFF'
  | 'ERR_BACKUP_UNSUPPORTED'
  // several hubs on one registry
  | 'ERR_REGISTRY_UNAVAILABLE'
  | 'ERR_HUB_EXISTS'
  | 'ERR_HUB_NOT_FOUND'
  | 'ERR_BACKUP_UNSUPPORTED'
  | 'ERR_ROUTE_OVERLAP'
  | 'ERR_ROUTE_EXISTS'
  | 'ERR_ROUTE_NOT_FOUND'
  | 'ERR_ROUTE_LIMIT'
  // auth
  | 'ERR_SSH_KEY_INVALID'
  | 'ERR_SSH_KEY_UNKNOWN'
  | 'ERR_SSH_KEY_IN_USE'
  | 'ERR_TOKEN_INVALID'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_REVOKED'
  | 'ERR_TOKEN_USED'
  // native / system
  | 'ERR_PERMISSION'
  | 'ERR_TUN_UNAVAILABLE'
  | 'ERR_CLOSED'
  | 'ERR_SYSTEM'
  | 'ERR_INTERNAL'
  // the kernel's network configuration (shared/system/)
  | 'ERR_DEVICE_NOT_FOUND'
  | 'ERR_ALREADY_EXISTS'
  | 'ERR_RESOURCE_LIMIT'
  // wire and datapath
  | 'ERR_DECODE'
  | 'ERR_TUNNEL_EXISTS'
  | 'ERR_TUNNEL_NOT_FOUND'
  | 'ERR_INVALID_KEY'
  // control plane
  | 'ERR_PROTOCOL'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_UNSUPPORTED_VERSION'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_NOT_CONNECTED'
  | 'ERR_ENDPOINT_UNVERIFIED'
  | 'ERR_TIMEOUT'
  | 'ERR_INSECURE_CHANNEL'
  // routers
  | 'ERR_TARGET_UNSUPPORTED'
  | 'ERR_ENDPOINT_CONFLICT'
  | 'ERR_RATE_LIMITED';

/** The project's one error class: a stable machine code plus a one-line human message. */
export class TunnelError extends Error {
  readonly code: TunnelErrorCode;

  constructor(code: TunnelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TunnelError';
    this.code = code;
  }
}

/** True when `err` is a TunnelError, optionally with the given code. */
export function isTunnelError(err: unknown, code?: TunnelErrorCode): err is TunnelError {
  return err instanceof TunnelError && (code === undefined || err.code === code);
}
