import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { epochsOf, initialRekeyState, newestEpoch, nextRekeyState, type LinkRekeyState, type RekeyEvent } from '../../server/control/link-rekey-state.js';
import { errorCodeOf } from '../helpers/error-code.js';

/** Applies events, skipping those the state machine refuses (a begin during a rekey, an old epoch); each state with the event that led to it. */
function run(events: RekeyEvent[]): { state: LinkRekeyState; by: RekeyEvent['type'] | 'start' }[] {
  const states: { state: LinkRekeyState; by: RekeyEvent['type'] | 'start' }[] = [{ state: initialRekeyState(1), by: 'start' }];
  for (const event of events) {
    const { state } = states.at(-1)!;
    if (errorCodeOf(() => nextRekeyState(state, event)) !== undefined) continue;
    states.push({ state: nextRekeyState(state, event), by: event.type });
  }
  return states;
}

const events: fc.Arbitrary<RekeyEvent[]> = fc.array(fc.oneof(
  fc.integer({ min: 1, max: 40 }).map((epoch): RekeyEvent => ({ type: 'begin', epoch })),
  fc.constant<RekeyEvent>({ type: 'acked' }),
  fc.constant<RekeyEvent>({ type: 'grace-over' }),
  fc.integer({ min: 1, max: 40 }).map((epoch): RekeyEvent => ({ type: 'restart', epoch })),
), { maxLength: 40 });

describe('the rekey state machine', () => {
  it('walks a rekey make-before-break: install the new inbound, switch senders, drop the old inbound after the grace', () => {
    let state = initialRekeyState(5);
    expect(epochsOf(state)).toEqual({ outbound: 5, inbound: [5] });
    state = nextRekeyState(state, { type: 'begin', epoch: 6 });
    expect(state.phase).toBe('installing');
    expect(epochsOf(state)).toEqual({ outbound: 5, inbound: [6, 5] });
    // The grace cannot end an install that was not acknowledged.
    expect(nextRekeyState(state, { type: 'grace-over' })).toEqual(state);
    state = nextRekeyState(state, { type: 'acked' });
    expect(epochsOf(state)).toEqual({ outbound: 6, inbound: [6, 5] });
    state = nextRekeyState(state, { type: 'acked' });
    expect(state.phase).toBe('draining');
    expect(epochsOf(state)).toEqual({ outbound: 6, inbound: [6, 5] });
    state = nextRekeyState(state, { type: 'grace-over' });
    expect(state).toEqual({ current: 6, next: null, phase: 'steady' });
    expect(epochsOf(state)).toEqual({ outbound: 6, inbound: [6] });
  });

  it('refuses a second rekey while one runs, and epochs that go back', () => {
    const installing = nextRekeyState(initialRekeyState(5), { type: 'begin', epoch: 6 });
    expect(errorCodeOf(() => nextRekeyState(installing, { type: 'begin', epoch: 7 }))).toBe('ERR_STATE');
    expect(errorCodeOf(() => nextRekeyState(initialRekeyState(5), { type: 'begin', epoch: 5 }))).toBe('ERR_STATE');
    expect(errorCodeOf(() => nextRekeyState(installing, { type: 'restart', epoch: 6 }))).toBe('ERR_STATE');
    expect(nextRekeyState(installing, { type: 'restart', epoch: 7 })).toEqual(initialRekeyState(7));
  });

  it('never loses a packet between two ends one step apart: each seals with an epoch the other opens', () => {
    fc.assert(fc.property(events, (list) => {
      const states = run(list);
      for (let i = 1; i < states.length; i++) {
        // A restart is the one break, by design: the end that restarted holds no SAs any more.
        if (states[i]!.by === 'restart') continue;
        const [a, b] = [epochsOf(states[i - 1]!.state), epochsOf(states[i]!.state)];
        expect(b.inbound).toContain(a.outbound);
        expect(a.inbound).toContain(b.outbound);
      }
    }));
  });

  it('holds at most two inbound epochs, seals with one of them, and only ever moves to newer epochs', () => {
    fc.assert(fc.property(events, (list) => {
      const states = run(list).map((entry) => entry.state);
      for (let i = 0; i < states.length; i++) {
        const state = states[i]!;
        const epochs = epochsOf(state);
        expect(epochs.inbound.length).toBeLessThanOrEqual(2);
        expect(epochs.inbound).toContain(epochs.outbound);
        expect(new Set(epochs.inbound).size).toBe(epochs.inbound.length);
        if (i > 0) expect(newestEpoch(state)).toBeGreaterThanOrEqual(newestEpoch(states[i - 1]!));
      }
    }));
  });
});
