import { TunnelError } from '../../shared/errors.js';
import { ENCAPSULATIONS, isEncapsulation, type Encapsulation } from '../../shared/net/encapsulation.js';
import { parseBitRate } from '../shortcuts/bit-rate.js';
import { DEFAULT_SHORTCUT_OPTIONS, SHORTCUT_MODES, type ShortcutMode, type ShortcutThreshold } from '../shortcuts/shortcut-options.js';
import { parseFilterText, parsePeerState, type PeerFilter } from '../hub/peer-filter.js';
import type { EncryptSetting } from '../registry/peer-encryption-store.js';

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

/** Parses `serve --shortcuts`: auto or off. */
export function parseShortcutMode(text: string): ShortcutMode {
  const mode = SHORTCUT_MODES.find((candidate) => candidate === text);
  if (mode === undefined) throw new TunnelError('ERR_INVALID_ARGUMENT', `--shortcuts "${text.slice(0, 32)}" must be ${SHORTCUT_MODES.join(' or ')}`);
  return mode;
}

const MIN_THRESHOLD_BPS = 1_000;
const MAX_THRESHOLD_BPS = 100_000_000_000;
const MAX_SUSTAIN_MS = 3_600_000;

/**
 * Parses `serve --shortcut-threshold`: RATE[:DURATION], a bit rate (`500kbit`, `1Mbit/s`,
 * `2.5Gbit`; 1 kbit/s to 100 Gbit/s) and how long it must last (`3s`, `1m`; 1 s to 1 h,
 * default 2 s), e.g. `2Mbit/s:3s`.
 */
export function parseShortcutThreshold(text: string): ShortcutThreshold {
  const [rateText = '', durationText, ...rest] = text.split(':');
  const bitsPerSecond = rest.length === 0 ? parseBitRate(rateText) : undefined;
  if (bitsPerSecond === undefined || bitsPerSecond < MIN_THRESHOLD_BPS || bitsPerSecond > MAX_THRESHOLD_BPS) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `--shortcut-threshold "${text.slice(0, 40)}" must be a rate from 1kbit/s to 100Gbit/s, optionally with how long it lasts, e.g. 1Mbit/s, 500kbit or 2Mbit/s:3s`);
  }
  const sustainMs = durationText === undefined ? DEFAULT_SHORTCUT_OPTIONS.threshold.sustainMs : parseDuration(durationText, '--shortcut-threshold duration');
  if (sustainMs > MAX_SUSTAIN_MS) throw new TunnelError('ERR_INVALID_ARGUMENT', `--shortcut-threshold duration "${durationText}" must be at most 1h`);
  return { bitsPerSecond, sustainMs };
}

/** `--state` of `peer list` and `status`. */
export const PEER_STATE_HELP = 'up: only peers with a control session open on the running hub; down: only those without one';
/** `--filter` of `peer list` and `status`. */
export const PEER_FILTER_HELP = 'only peers with TEXT (any case) in their name, their address on the hub link, or their public address';

/** `--state up|down` and `--filter TEXT` of `peer list` and `status`, checked before anything is opened. */
export function parsePeerFilterOptions(options: { state?: string; filter?: string }): PeerFilter {
  return {
    ...(options.state === undefined ? {} : { state: parsePeerState(options.state) }),
    ...(options.filter === undefined ? {} : { text: parseFilterText(options.filter) }),
  };
}

/** True when the filter selects some peers only. */
export function isPeerFilterSet(filter: PeerFilter): boolean {
  return filter.state !== undefined || filter.text !== undefined;
}

/** Parses `peer set --encrypt`: on, off, or `default` (null: follow the hub's default). */
export function parseEncryptSetting(text: string): EncryptSetting {
  if (text === 'on' || text === 'off') return text;
  if (text === 'default') return null;
  throw new TunnelError('ERR_INVALID_ARGUMENT', `--encrypt "${text.slice(0, 32)}" must be on, off or default`);
}
