import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { openTun } from '../../native/index.js';
import { tunQueues } from '../../shared/datapath/native-datapath-io.js';
import { errorCodeOf, refusalOf } from '../helpers/error-code.js';

describe('TUN queues (TUNNEL_QUEUES)', () => {
  it('defaults to one queue per core beyond the first, at most four (one on two cores)', () => {
    const expected = Math.max(1, Math.min(4, availableParallelism() - 1));
    expect(tunQueues({})).toBe(expected);
    expect(tunQueues({ TUNNEL_QUEUES: '' })).toBe(expected);
  });

  it('takes 1 to 8', () => {
    for (const n of [1, 2, 4, 8]) expect(tunQueues({ TUNNEL_QUEUES: String(n) })).toBe(n);
  });

  it.each(['0', '9', '16', '-1', '2.5', '02', ' 2', 'two', '1e0', 'x'.repeat(100)])('refuses %j with ERR_INVALID_CONFIG', (value) => {
    expect(errorCodeOf(() => tunQueues({ TUNNEL_QUEUES: value }))).toBe('ERR_INVALID_CONFIG');
  });

  it('names the bad value in one short line', () => {
    const { message } = refusalOf(() => tunQueues({ TUNNEL_QUEUES: `9${'y'.repeat(200)}` }));
    expect(message).toMatch(/^TUNNEL_QUEUES "9y+" must be a number of TUN queues from 1 to 8$/);
    expect(message.length).toBeLessThan(100);
  });

  it.each([0, 9, 1.5, Number.NaN])('openTun refuses queues: %s before touching the system', (queues) => {
    expect(errorCodeOf(() => openTun('tnl-q', { queues }))).toBe('ERR_INVALID_ARGUMENT');
  });
});
