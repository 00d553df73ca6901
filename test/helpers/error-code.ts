import { isTunnelError } from '../../shared/errors.js';

/** The code `fn` throws (`not a TunnelError` for any other error), or undefined when it does not throw. */
export function errorCodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isTunnelError(err) ? err.code : 'not a TunnelError';
  }
  return undefined;
}
