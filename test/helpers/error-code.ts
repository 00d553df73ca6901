import { isNativeError, type NativeError } from '../../native/native-error.js';
import { isTunnelError, type TunnelError, type TunnelErrorCode } from '../../shared/errors.js';

/** An error with a machine code: a TunnelError, or native/'s NativeError where a test calls native/ directly. */
export type CodedError = TunnelError | NativeError;

/** A class of coded errors a test insists on (e.g. native/'s EspError). */
type CodedErrorClass<E extends CodedError> = abstract new (...args: never[]) => E;

/** `err` when it is a coded error (of `type`, when given); anything else is rethrown. */
function codedOrRethrow(err: unknown, type?: CodedErrorClass<CodedError>): CodedError {
  if (type === undefined ? isTunnelError(err) || isNativeError(err) : err instanceof type) return err as CodedError;
  throw err;
}

/**
 * The code of the TunnelError or NativeError (or instance of `type`) `fn` throws, or undefined when
 * it returns. Anything else it throws is rethrown, so a test expecting a code fails on the real error.
 */
export function errorCodeOf(fn: () => unknown, type?: CodedErrorClass<CodedError>): TunnelErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    return codedOrRethrow(err, type).code;
  }
  return undefined;
}

/** The coded error (of `type`, when given) `fn` throws, to check its code and message; throws when it returns or throws anything else. */
export function refusalOf(fn: () => unknown): CodedError;
export function refusalOf<E extends CodedError>(fn: () => unknown, type: CodedErrorClass<E>): E;
export function refusalOf(fn: () => unknown, type?: CodedErrorClass<CodedError>): CodedError {
  try {
    fn();
  } catch (err) {
    return codedOrRethrow(err, type);
  }
  throw new Error(`expected ${type === undefined ? 'a coded error' : `a ${type.name}`}, but it returned`);
}

/** The coded error (of `type`, when given) `promise` rejects with; throws when it resolves or rejects with anything else. */
export async function rejectionOf(promise: Promise<unknown>): Promise<CodedError>;
export async function rejectionOf<E extends CodedError>(promise: Promise<unknown>, type: CodedErrorClass<E>): Promise<E>;
export async function rejectionOf(promise: Promise<unknown>, type?: CodedErrorClass<CodedError>): Promise<CodedError> {
  try {
    await promise;
  } catch (err) {
    return codedOrRethrow(err, type);
  }
  throw new Error(`expected ${type === undefined ? 'a coded error' : `a ${type.name}`}, but it resolved`);
}
