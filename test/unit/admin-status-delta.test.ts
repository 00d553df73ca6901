import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyStatusDelta, diffStatusViews } from '../../server/admin/status-delta.js';
import { packStatusView, unpackStatusView, type PackedStatusView } from '../../server/admin/status-snapshot.js';
import { compareViewPeers, type StatusView, type StatusViewPeer } from '../../server/admin/status-view.js';

const HUB: StatusView['hub'] = { endpoint: '198.51.100.1', hubId: 'SHA256:x', wsPort: 8443, sshPort: 2222, version: '1.2.3' };

function peer(name: string, extra: Partial<StatusViewPeer> = {}): StatusViewPeer {
  return {
    name, state: 'up', transport: 'ws', router: false, seen: '203.0.113.10', reported: '192.168.1.2', nat: true, encap: 'fou',
    encapReason: 'nat-detected', prefix: '10.1.12.0/30', inner: '10.1.12.2', routes: [], lastSeen: null, since: '2026-01-01T00:00:00.000Z',
    hub: null, rxBytes: 1_000, txBytes: 2_000, rxPackets: 10, txPackets: 20, dropped: 0, software: 'tunnel-client/1.2.3', encryption: null, direct: [], ...extra,
  };
}

const view = (at: number, peers: StatusViewPeer[], hub = HUB): StatusView => ({ at, hub, peers: [...peers].sort(compareViewPeers) });
/** The delta as the page receives it: through JSON. */
const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const counter = fc.option(fc.nat({ max: 2 ** 40 }), { nil: null });
const peerArb = (name: string): fc.Arbitrary<StatusViewPeer> => fc.record({
  state: fc.constantFrom('up' as const, 'down' as const),
  transport: fc.constantFrom('ws' as const, 'ssh' as const, null),
  router: fc.boolean(),
  seen: fc.option(fc.constantFrom('203.0.113.10', '198.51.100.7', '2001:db8::1'), { nil: null }),
  encap: fc.constantFrom('gre', 'fou', 'gue', 'ipip'),
  routes: fc.array(fc.constantFrom('10.7.0.0/24', '10.8.0.0/16', '10.9.9.0/24'), { maxLength: 3 }),
  since: fc.option(fc.constantFrom('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'), { nil: null }),
  hub: fc.option(fc.constantFrom('hub-a', 'hub-b'), { nil: null }),
  rxBytes: counter, txBytes: counter, rxPackets: counter, txPackets: counter, dropped: counter,
}).map((fields) => peer(name, fields));

/** Two views over overlapping names: some peers only before, some only after, most in both. */
const viewPair: fc.Arbitrary<[StatusView, StatusView]> = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/), { maxLength: 12 })
  .chain((names) => fc.tuple(
    fc.tuple(...names.map((name) => fc.tuple(fc.constantFrom('both', 'before', 'after'), peerArb(name), peerArb(name), fc.boolean()))),
    fc.boolean(),
  ))
  .map(([rows, hubChanged]) => {
    const before: StatusViewPeer[] = [];
    const after: StatusViewPeer[] = [];
    for (const [where, a, b, keep] of rows) {
      if (where !== 'after') before.push(a);
      // `keep`: the peer did not change at all, the common case at steady state.
      if (where !== 'before') after.push(where === 'both' && keep ? a : b);
    }
    return [view(1_000, before), view(2_000, after, hubChanged ? { ...HUB, version: '1.2.4' } : HUB)];
  });

describe('status deltas (diffStatusViews on the hub, applyStatusDelta in the page)', () => {
  it('applying the delta to the view before gives the view after, through JSON', () => {
    fc.assert(fc.property(viewPair, ([before, after]) => {
      expect(applyStatusDelta(before, wire(diffStatusViews(before, after)))).toEqual(after);
    }), { numRuns: 500 });
  });

  it('names no peer that did not change, and sends nothing but the time when nothing did', () => {
    fc.assert(fc.property(viewPair, ([before, after]) => {
      const delta = diffStatusViews(before, after);
      const untouched = after.peers.filter((p) => before.peers.some((q) => JSON.stringify(q) === JSON.stringify(p))).map((p) => p.name);
      const named = [...(delta.changed ?? []).map((c) => c.name), ...(delta.traffic ?? []).map((t) => t[0]), ...(delta.added ?? []).map((p) => p.name)];
      expect(named.filter((name) => untouched.includes(name))).toEqual([]);
      expect(diffStatusViews(after, { ...after, at: 3_000 })).toEqual({ at: 3_000 });
    }), { numRuns: 300 });
  });

  it('sends counters that grew as increments and only the fields that changed', () => {
    const before = view(1_000, [peer('alice'), peer('bob'), peer('carol', { state: 'down' })]);
    const after = view(2_000, [
      peer('alice', { rxBytes: 126_000, rxPackets: 110 }),
      peer('bob', { encap: 'gue', encapReason: 'fou-unanswered', rxBytes: 500 }),
      peer('dave'),
    ]);
    expect(diffStatusViews(before, after)).toEqual({
      at: 2_000,
      added: [peer('dave')],
      removed: ['carol'],
      // bob's bytes in went backwards (a re-created tunnel): the new value, not an increment.
      changed: [{ name: 'bob', encap: 'gue', encapReason: 'fou-unanswered', rxBytes: 500 }],
      traffic: [['alice', 125_000, 0, 100, 0]],
    });
  });

  it('keeps the order of the view: a peer going down moves behind the ones up', () => {
    const before = view(1_000, [peer('alice'), peer('bob'), peer('carol', { state: 'down' })]);
    const after = applyStatusDelta(before, { at: 2_000, changed: [{ name: 'alice', state: 'down' }] });
    expect(after.peers.map((p) => [p.name, p.state])).toEqual([['bob', 'up'], ['alice', 'down'], ['carol', 'down']]);
    // Peers the delta leaves alone are the very same objects (the page redraws only what changed).
    expect(after.peers[0]).toBe(before.peers[1]);
  });
});

describe('status snapshots (packStatusView on the hub, unpackStatusView in the page)', () => {
  it('give back the view they packed, through JSON, naming each field once', () => {
    fc.assert(fc.property(viewPair, ([, after]) => {
      const packed = wire(packStatusView(after));
      expect(unpackStatusView(packed)).toEqual(after);
      expect(packed.peers.every((values) => values.length === packed.fields.length)).toBe(true);
    }), { numRuns: 300 });
    expect(packStatusView(view(5, []))).toEqual({ at: 5, hub: HUB, fields: [], peers: [] } satisfies PackedStatusView);
  });

  it('are about half the size of the view as JSON', () => {
    const big = view(1, Array.from({ length: 1_000 }, (_, i) => peer(`member-${i}`)));
    expect(JSON.stringify(packStatusView(big)).length).toBeLessThan(0.6 * JSON.stringify(big).length);
  });
});
