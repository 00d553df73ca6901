import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FAILOVER_AFTER, chooseHub } from '../../client/session/choose-hub.js';

const names = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,7}$/), { minLength: 0, maxLength: 6 });

describe('choosing the hub to try next', () => {
  it('stays on its hub until the attempts in a row that could not reach it reach the threshold', () => {
    fc.assert(fc.property(names, fc.nat({ max: FAILOVER_AFTER - 1 }), fc.nat(), (hubs, unreachable, pick) => {
      const current = hubs.length > 0 ? hubs[pick % hubs.length] : undefined;
      const choice = chooseHub({ hubs: hubs.map((name) => ({ name })), current, unreachable });
      expect(choice.moved).toBe(false);
      expect(choice.hub?.name).toBe(current);
    }));
  });

  it('then moves to another hub of the list, never the unreachable one, whenever there is another', () => {
    fc.assert(fc.property(names, fc.integer({ min: FAILOVER_AFTER, max: 50 }), fc.nat(), (hubs, unreachable, pick) => {
      const current = hubs.length > 0 ? hubs[pick % hubs.length] : undefined;
      const choice = chooseHub({ hubs: hubs.map((name) => ({ name })), current, unreachable });
      if (hubs.length <= 1) {
        expect(choice.moved).toBe(false);
        return;
      }
      expect(choice.moved).toBe(true);
      expect(hubs).toContain(choice.hub?.name);
      expect(choice.hub?.name).not.toBe(current);
    }));
  });

  it('visits every hub in turn when each one fails in its turn', () => {
    fc.assert(fc.property(names.filter((hubs) => hubs.length >= 2), fc.nat(), (hubs, pick) => {
      const list = hubs.map((name) => ({ name }));
      let current = hubs[pick % hubs.length];
      const visited = new Set([current]);
      for (let i = 0; i < hubs.length - 1; i++) {
        current = chooseHub({ hubs: list, current, unreachable: FAILOVER_AFTER }).hub?.name;
        visited.add(current);
      }
      expect(visited.size).toBe(hubs.length);
    }));
  });

  it('moves into the list from a hub it does not list (the URL the member first joined)', () => {
    const choice = chooseHub({ hubs: [{ name: 'hub2' }, { name: 'hub' }], current: 'gone', unreachable: FAILOVER_AFTER });
    expect(choice).toEqual({ hub: { name: 'hub' }, moved: true });
    expect(chooseHub({ hubs: [{ name: 'hub' }], current: undefined, unreachable: 5 })).toEqual({ hub: { name: 'hub' }, moved: true });
  });
});
