import { NativeError } from './native-error.js';

/** Codes an ESP call can fail with; the same strings as the project's error codes, so the datapath maps them one to one. */
export type EspErrorCode = 'ERR_INVALID_ARGUMENT' | 'ERR_INVALID_KEY' | 'ERR_CLOSED' | 'ERR_SYSTEM';

/**
 * An ESP call refused: one line, a code to narrow on, and never a byte of key material (the
 * messages name lengths and fields, not values). A NativeError, so shared/native-boundary.ts
 * maps it to a TunnelError like any other of native/'s errors.
 */
export class EspError extends NativeError {
  override readonly name = 'EspError';
  declare readonly code: EspErrorCode;

  constructor(code: EspErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options?.cause === undefined ? {} : { cause: options.cause });
  }
}

/** Turns what the addon threw into an EspError: its TypeErrors are arguments JS should have refused. */
export function toEspError(err: unknown, action: string): EspError {
  if (err instanceof EspError) return err;
  const fields = (typeof err === 'object' && err !== null ? err : {}) as { closed?: unknown; message?: unknown };
  const detail = typeof fields.message === 'string' ? fields.message : String(err);
  if (fields.closed === true) return new EspError('ERR_CLOSED', `${action}: it is closed`, { cause: err });
  if (err instanceof TypeError) return new EspError('ERR_INVALID_ARGUMENT', `${action}: ${detail}`, { cause: err });
  return new EspError('ERR_SYSTEM', `${action}: ${detail}`, { cause: err });
}
