import { describe, expect, it } from 'vitest';
import { isTunnelError } from '../../shared/errors.js';
import { LOG_LEVELS } from '../../shared/log-levels.js';
import { parseLogLevel } from '../../shared/log.js';

describe('--log-level', () => {
  it.each([...LOG_LEVELS])('takes %s', (level) => {
    expect(parseLogLevel(level)).toBe(level);
  });

  it('takes a level in capitals', () => {
    expect(parseLogLevel('WARN')).toBe('warn');
  });

  it.each(['', 'verbose', 'info ', '30'])('refuses %j with a coded error naming the levels', (text) => {
    let caught: unknown;
    try {
      parseLogLevel(text);
    } catch (err) {
      caught = err;
    }
    expect(isTunnelError(caught, 'ERR_INVALID_ARGUMENT')).toBe(true);
    expect((caught as Error).message).toContain('trace, debug, info, warn, error, fatal, silent');
  });
});
