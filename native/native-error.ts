/**
 * The addon's own error type, so native/ stands alone (it imports nothing from shared/). Its codes
 * are a subset of the project's TunnelErrorCode; shared/native-boundary.ts turns a NativeError into
 * a TunnelError with the same code and message where shared/ calls native/.
 */

/** Every code native/ raises; each is also a TunnelErrorCode. */
export type NativeErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INVALID_ADDRESS'
  | 'ERR_PERMISSION'
  | 'ERR_TUN_UNAVAILABLE'
  | 'ERR_CLOSED'
  | 'ERR_SYSTEM'
  // ESP (esp-error.ts)
  | 'ERR_INVALID_KEY'
  // rtnetlink refusals a caller may tell apart (and a hub count)
  | 'ERR_DEVICE_NOT_FOUND'
  | 'ERR_ALREADY_EXISTS'
  | 'ERR_RESOURCE_LIMIT';

/** What a NativeError may say beyond its code: the errno and, for interface changes, which and what. */
export interface NativeErrorDetails {
  /** The kernel's errno (positive), when a system call failed. */
  errno?: number;
  /** The interface the failed operation was about. */
  interfaceName?: string;
  /** The operation, as a short phrase ("setting the MTU"). */
  operation?: string;
  cause?: unknown;
}

/** An error raised by native/: a code callers narrow on, and a one-line message. */
export class NativeError extends Error {
  readonly code: NativeErrorCode;
  readonly errno: number | undefined;
  readonly interfaceName: string | undefined;
  readonly operation: string | undefined;

  constructor(code: NativeErrorCode, message: string, details: NativeErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'NativeError';
    this.code = code;
    this.errno = details.errno;
    this.interfaceName = details.interfaceName;
    this.operation = details.operation;
  }
}

/** True when `err` is a NativeError, optionally with the given code. */
export function isNativeError(err: unknown, code?: NativeErrorCode): err is NativeError {
  return err instanceof NativeError && (code === undefined || err.code === code);
}
