import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeepaliveWheel } from '../../shared/datapath/keepalive-wheel.js';

const TICK = 100;

afterEach(() => {
  vi.useRealTimers();
});

describe('KeepaliveWheel: one timer for every keepalive', () => {
  it('hands out what falls due in one call per tick, at most one tick late, and each item once', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const calls: string[][] = [];
    const wheel = new KeepaliveWheel<string>((due) => calls.push([...due].sort()), TICK);
    wheel.schedule('a', 1000);
    wheel.schedule('b', 1000);
    wheel.schedule('c', 1050);
    vi.advanceTimersByTime(999);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual([['a', 'b']]);
    vi.advanceTimersByTime(TICK);
    expect(calls).toEqual([['a', 'b'], ['c']]);
    expect(wheel.size).toBe(0);
  });

  it('runs one timer whatever the number of items, and none when nothing waits', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const wheel = new KeepaliveWheel<number>(() => {}, TICK);
    expect(vi.getTimerCount()).toBe(0);
    for (let i = 0; i < 10_000; i++) wheel.schedule(i, 1000 + (i % 50) * 100);
    expect(vi.getTimerCount()).toBe(1);
    for (let i = 0; i < 10_000; i++) wheel.cancel(i);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('moves an item scheduled again, and forgets a cancelled one', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const due: string[] = [];
    const wheel = new KeepaliveWheel<string>((items) => due.push(...items), TICK);
    wheel.schedule('moved', 500);
    wheel.schedule('gone', 500);
    wheel.schedule('moved', 2000);
    wheel.cancel('gone');
    expect(wheel.has('gone')).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(due).toEqual(['moved']);
  });

  it('after the loop stalled past many ticks, hands out everything overdue at once', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const calls: number[][] = [];
    const wheel = new KeepaliveWheel<number>((items) => calls.push([...items].sort((x, y) => x - y)), TICK);
    for (let i = 0; i < 5; i++) wheel.schedule(i, 200 + i * 300);
    // The clock jumps 5 s while no timer ran (a blocked loop), then the next tick runs.
    vi.setSystemTime(Date.now() + 5000);
    vi.advanceTimersByTime(TICK);
    expect(calls).toEqual([[0, 1, 2, 3, 4]]);
  });
});
