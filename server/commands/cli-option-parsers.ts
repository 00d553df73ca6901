import { TunnelError } from '../../shared/errors.js';
import { ENCAPSULATIONS, isEncapsulation, type Encapsulation } from '../../shared/net/encapsulation.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses a duration such as `90s`, `30m`, `24h`, `7d`, `2w` into milliseconds. */
export function parseDuration(text: string, option: string): number {
  const match = /^([1-9][0-9]{0,6})([smhdw])$/.exec(text.trim());
  if (!match) throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} "${text}" is not a duration; use a number and a unit, e.g. 90s, 30m, 24h, 7d, 2w`);
  return Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1000);
}

/** Parses a whole number from 1 to `max`. */
export function parsePositiveInteger(text: string, option: string, max = 1_000_000): number {
  const value = /^[0-9]{1,9}$/.test(text.trim()) ? Number(text) : NaN;
  if (!(value >= 1 && value <= max)) throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} "${text}" must be a whole number from 1 to ${max}`);
  return value;
}

/** Parses `--encap` of `peer pin`: an encapsulation, or `auto` (null) to unpin. */
export function parsePinnedEncap(text: string): Encapsulation | null {
  if (text === 'auto') return null;
  if (!isEncapsulation(text)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `--encap "${text.slice(0, 32)}" must be one of ${ENCAPSULATIONS.join(', ')} or auto`);
  }
  return text;
}

/** Parses an `on|off` option value. */
export function parseOnOff(text: string, option: string): boolean {
  if (text === 'on' || text === 'off') return text === 'on';
  throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} "${text.slice(0, 32)}" must be on or off`);
}
