import { isNativeError, type NativeError } from '../../native/native-error.js';
import { isTunnelError, type TunnelError, type TunnelErrorCode } from '../../shared/errors.js';

/** An error with a machine code: a TunnelError, or native/'s NativeError where a test calls native/ directly. */
export type CodedError = TunnelError | NativeError;

function codedOrRethrow(err: unknown): CodedError {
  if (isTunnelError(err) || isNativeError(err)) return err;
  throw err;
}

/**
 * The code of the TunnelError (or NativeError) `fn` throws, or undefined when it returns. Anything
 * else it throws is rethrown, so a test expecting a code fails on it with the real error.
 */
export function errorCodeOf(fn: () => unknown): TunnelErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    return codedOrRethrow(err).code;
  }
  return undefined;
}

/** The coded error `fn` throws, to check its code and message; throws when it returns or throws anything else. */
export function refusalOf(fn: () => unknown): CodedError {
  try {
    fn();
  } catch (err) {
    return codedOrRethrow(err);
  }
  throw new Error('expected a coded error, but it returned');
}

/** The coded error `promise` rejects with; throws when it resolves or rejects with anything else. */
export async function rejectionOf(promise: Promise<unknown>): Promise<CodedError> {
  try {
    await promise;
  } catch (err) {
    return codedOrRethrow(err);
  }
  throw new Error('expected a coded error, but it resolved');
}
