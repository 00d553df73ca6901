import { isNativeError } from '../../native/native-error.js';
import { isTunnelError } from '../../shared/errors.js';

/**
 * The code `fn` throws (a TunnelError's, or a NativeError's when native/ is called directly; `not a
 * TunnelError` for any other error), or undefined when it does not throw.
 */
export function errorCodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isTunnelError(err) || isNativeError(err) ? err.code : 'not a TunnelError';
  }
  return undefined;
}
