import { describe, expect, it } from 'vitest';
import { WorkSlots } from '../../server/control/work-slots.js';

/** A job that records when it runs and waits until released. */
function gatedJob(log: string[], name: string): { job: () => Promise<string>; release: () => void; fail: (err: Error) => void } {
  let release!: () => void;
  let fail!: (err: Error) => void;
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  return {
    job: async () => {
      log.push(`start ${name}`);
      await gate;
      log.push(`end ${name}`);
      return name;
    },
    release: () => release(),
    fail: (err) => fail(err),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('work slots (reconfigurations a few at a time)', () => {
  it('run at most their size at once, the rest in the order they came', async () => {
    const slots = new WorkSlots(2);
    const log: string[] = [];
    const jobs = ['a', 'b', 'c', 'd'].map((name) => gatedJob(log, name));
    const results = jobs.map((j) => slots.run(j.job));
    await settle();
    expect(log).toEqual(['start a', 'start b']);
    jobs[1]!.release();
    await settle();
    expect(log).toEqual(['start a', 'start b', 'end b', 'start c']);
    jobs[0]!.release();
    await settle();
    expect(log.slice(4)).toEqual(['end a', 'start d']);
    jobs[2]!.release();
    jobs[3]!.release();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('free the slot of a job that failed, and pass the failure to its caller only', async () => {
    const slots = new WorkSlots(1);
    const log: string[] = [];
    const failing = gatedJob(log, 'x');
    const next = gatedJob(log, 'y');
    const first = slots.run(failing.job);
    const second = slots.run(next.job);
    await settle();
    expect(log).toEqual(['start x']);
    failing.fail(new Error('refused'));
    await expect(first).rejects.toThrow('refused');
    await settle();
    expect(log).toEqual(['start x', 'start y']);
    next.release();
    expect(await second).toBe('y');
  });

  it('let a newcomer run at once when a slot is free, and not before the ones waiting', async () => {
    const slots = new WorkSlots(1);
    const log: string[] = [];
    const a = gatedJob(log, 'a');
    const b = gatedJob(log, 'b');
    const runA = slots.run(a.job);
    const runB = slots.run(b.job);
    a.release();
    await runA;
    const c = gatedJob(log, 'c');
    const runC = slots.run(c.job);
    await settle();
    expect(log).toEqual(['start a', 'end a', 'start b']);
    b.release();
    c.release();
    await Promise.all([runB, runC]);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });
});
