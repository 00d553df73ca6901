import { describe, expect, it } from 'vitest';
import { refusalOf } from '../helpers/error-code.js';
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
    expect(refusalOf(() => parseLogLevel(text))).toMatchObject({
      code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('trace, debug, info, warn, error, fatal, silent'),
    });
  });
});
