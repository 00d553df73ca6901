import { describe, expect, it } from 'vitest';
import { TurnBudget } from '../../shared/datapath/turn-budget.js';

/** Counts event-loop turns (one per setImmediate round) until stopped. */
function turnCounter(): { turns: () => number; stop: () => void } {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return { turns: () => turns, stop: () => (running = false) };
}

describe('TurnBudget', () => {
  it('lets work that arrives together run in one turn while it fits the budget', async () => {
    const budget = new TurnBudget(1_000);
    const counter = turnCounter();
    const at: number[] = [];
    await Promise.all(Array.from({ length: 50 }, async () => {
      const pause = budget.pause();
      if (pause !== undefined) await pause;
      at.push(counter.turns());
    }));
    counter.stop();
    expect(new Set(at).size).toBe(1);
  });

  it('spreads work over several turns once a turn has used its budget, and runs all of it', async () => {
    let clock = 0;
    const budget = new TurnBudget(5, () => clock);
    const counter = turnCounter();
    const at: number[] = [];
    await Promise.all(Array.from({ length: 20 }, async () => {
      const pause = budget.pause();
      if (pause !== undefined) await pause;
      at.push(counter.turns());
      clock += 1; // each piece of work "takes" 1 ms
    }));
    counter.stop();
    expect(at).toHaveLength(20);
    // 5 ms a turn, 1 ms a piece: 5 pieces per turn, so 4 turns, in order.
    expect(new Set(at).size).toBe(4);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });
});
