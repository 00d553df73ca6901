import { describe, expect, it } from 'vitest';
import { median } from '../../bench/median.js';

describe('bench median', () => {
  it('takes the middle of an odd count, whatever the order', () => {
    expect(median([2.9, 0.8, 2.4, 3.3, 2.5])).toBe(2.5);
  });

  it('takes the mean of the middle two of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('is NaN for no values and leaves its input unsorted', () => {
    const values = [3, 1, 2];
    expect(median([])).toBeNaN();
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});
