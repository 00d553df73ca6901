import { TunnelError } from '../../shared/errors.js';

/** Parses a decimal integer flag value within [min, max]; a coded one-line error otherwise. */
export function parseIntegerFlag(flag: string, text: string, min: number, max: number): number {
  const value = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `${flag} ${JSON.stringify(text)}: expected an integer from ${min} to ${max}`);
  }
  return value;
}
