import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseShortcutMode, parseShortcutThreshold } from '../../server/commands/cli-option-parsers.js';
import { formatAge } from '../../server/commands/link-list-view.js';
import { formatBitRate, parseBitRate } from '../../server/shortcuts/bit-rate.js';
import { TunnelError } from '../../shared/errors.js';
import { refusalOf } from '../helpers/error-code.js';

describe('bit rates', () => {
  it('reads rates as tc writes them, decimal, with or without /s, any case, or as bps', () => {
    expect([
      '1Mbit/s', '1mbit', '500kbit', '500 kbit/s', '2.5Gbit/s', '10mbps', '1000bit', '0.5Mbit', '1.234kbit',
    ].map(parseBitRate)).toEqual([1_000_000, 1_000_000, 500_000, 500_000, 2_500_000_000, 10_000_000, 1_000, 500_000, 1_234]);
    for (const text of ['', 'fast', '1', '1M', 'Mbit', '-1Mbit', '1e6bit', '1Tbit', '1.2345Mbit', '1Mbit/h', '1  Mbit']) expect(parseBitRate(text), text).toBeUndefined();
  });

  it('says rates with one decimal at most, in the largest unit that reads 1 or more', () => {
    expect([0, 999, 1_000, 3_200_000, 999_960, 1_000_000_000, 12_345_678_901].map(formatBitRate))
      .toEqual(['0 bit/s', '999 bit/s', '1 kbit/s', '3.2 Mbit/s', '1 Mbit/s', '1 Gbit/s', '12.3 Gbit/s']);
  });

  it('(property) what it says reads back within the rounding of its one decimal', () => {
    fc.assert(fc.property(fc.integer({ min: 1_000, max: 100_000_000_000 }), (bps) => {
      const back = parseBitRate(formatBitRate(bps).replace(' ', ''));
      expect(back).toBeDefined();
      expect(Math.abs((back ?? 0) - bps) / bps).toBeLessThanOrEqual(0.05);
    }));
  });
});

describe('serve\'s shortcut options', () => {
  it('--shortcut-threshold: a rate, and how long it must last (2 s unless said)', () => {
    expect(parseShortcutThreshold('1Mbit/s')).toEqual({ bitsPerSecond: 1_000_000, sustainMs: 2_000 });
    expect(parseShortcutThreshold('2Mbit/s:3s')).toEqual({ bitsPerSecond: 2_000_000, sustainMs: 3_000 });
    expect(parseShortcutThreshold('500kbit:1m')).toEqual({ bitsPerSecond: 500_000, sustainMs: 60_000 });
    expect(refusalOf(() => parseShortcutThreshold('fast'), TunnelError)).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/^--shortcut-threshold "fast" must be a rate/) });
    expect(refusalOf(() => parseShortcutThreshold('999bit'), TunnelError)).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/from 1kbit\/s to 100Gbit\/s/) });
    expect(refusalOf(() => parseShortcutThreshold('101Gbit'), TunnelError)).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/from 1kbit\/s to 100Gbit\/s/) });
    expect(refusalOf(() => parseShortcutThreshold('1Mbit:0s'), TunnelError)).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/duration "0s" is not a duration/) });
    expect(refusalOf(() => parseShortcutThreshold('1Mbit:61m'), TunnelError)).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/at most 1h/) });
    expect(refusalOf(() => parseShortcutThreshold('1Mbit:2s:3s'), TunnelError)).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/must be a rate/) });
  });

  it('--shortcuts: auto or off', () => {
    expect(parseShortcutMode('auto')).toBe('auto');
    expect(parseShortcutMode('off')).toBe('off');
    expect(refusalOf(() => parseShortcutMode('on'), TunnelError)).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: '--shortcuts "on" must be auto or off' });
  });
});

describe('link ages', () => {
  it('read in the two largest units', () => {
    expect([0, 59, 60, 192, 3_599, 3_600, 7_500, 86_399, 86_400, 273_600].map(formatAge))
      .toEqual(['0s', '59s', '1m00s', '3m12s', '59m59s', '1h00m', '2h05m', '23h59m', '1d00h', '3d04h']);
  });
});
