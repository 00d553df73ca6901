import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortTableRows, tableFilter, type StatusTableColumn, type StatusTableFilter, type StatusTableRow } from '../../server/admin/status-table-query.js';
import { virtualWindow } from '../../server/admin/status-virtual-window.js';
import type { StatusViewPeer } from '../../server/admin/status-view.js';

function row(name: string, extra: Partial<StatusViewPeer> = {}, rx: number | null = 0, tx: number | null = 0): StatusTableRow {
  return {
    peer: {
      name, state: 'up', transport: 'ws', router: false, seen: '203.0.113.10', reported: '192.168.1.2', nat: true, encap: 'fou',
      encapReason: 'nat-detected', prefix: '10.1.12.0/30', inner: '10.1.12.2', routes: [], lastSeen: null, since: null, hub: null,
      rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, dropped: 0, software: null, encryption: null, direct: [], ...extra,
    },
    rx, tx,
  };
}

const ANY: StatusTableFilter = { search: '', state: '', encap: '', hub: '' };
const names = (rows: StatusTableRow[]): string[] => rows.map((r) => r.peer.name);

describe('the table\'s search and filters (tableFilter, which the page runs)', () => {
  const rows = [
    row('alice', { inner: '10.1.12.2', seen: '203.0.113.10', encap: 'gre', hub: 'hub-a' }),
    row('bob', { inner: '10.1.12.6', seen: '198.51.100.7', reported: '192.168.7.7', state: 'down', hub: 'hub-b' }),
    row('Carol-2', { inner: '10.1.12.10', seen: null, reported: null, encap: 'gue', hub: 'hub-a' }),
  ];
  const pick = (filter: Partial<StatusTableFilter>): string[] => names(rows.filter(tableFilter({ ...ANY, ...filter })));

  it('finds words in the name, the inner address and either endpoint, case-insensitively, every word', () => {
    expect(pick({})).toEqual(['alice', 'bob', 'Carol-2']);
    expect(pick({ search: 'CAROL' })).toEqual(['Carol-2']);
    expect(pick({ search: '10.1.12.6' })).toEqual(['bob']);
    expect(pick({ search: '198.51.100' })).toEqual(['bob']);
    expect(pick({ search: '192.168.7' })).toEqual(['bob']);
    expect(pick({ search: '  10.1.12.  al ' })).toEqual(['alice']);
    expect(pick({ search: 'nobody' })).toEqual([]);
  });

  it('filters by state, encapsulation and serving hub, together with the search', () => {
    expect(pick({ state: 'down' })).toEqual(['bob']);
    expect(pick({ state: 'up', encap: 'gue' })).toEqual(['Carol-2']);
    expect(pick({ hub: 'hub-a' })).toEqual(['alice', 'Carol-2']);
    expect(pick({ hub: 'hub-a', search: '10.1.12.2' })).toEqual(['alice']);
  });
});

describe('the table\'s column order (sortTableRows, which the page runs)', () => {
  const columns: StatusTableColumn[] = ['name', 'state', 'hub', 'encap', 'endpoint', 'inner', 'rx', 'tx', 'total', 'since'];

  it('compares numbers inside names and addresses as numbers, and puts rows without a value last both ways', () => {
    const rows = [row('member-10', { seen: '10.0.0.10' }, 5), row('member-9', { seen: '10.0.0.9' }, null), row('member-100', { seen: null }, 7)];
    expect(names(sortTableRows(rows, 'name', false))).toEqual(['member-9', 'member-10', 'member-100']);
    expect(names(sortTableRows(rows, 'endpoint', false))).toEqual(['member-9', 'member-10', 'member-100']);
    expect(names(sortTableRows(rows, 'endpoint', true))).toEqual(['member-10', 'member-9', 'member-100']);
    expect(names(sortTableRows(rows, 'rx', true))).toEqual(['member-100', 'member-10', 'member-9']);
    expect(names(sortTableRows(rows, 'rx', false))).toEqual(['member-10', 'member-100', 'member-9']);
  });

  it('sorts up before down, totals by bytes both ways, since oldest first; ties by name', () => {
    const rows = [
      row('b', { state: 'down', rxBytes: 10, txBytes: 1, since: '2026-01-02T00:00:00.000Z' }),
      row('a', { state: 'down', rxBytes: null, txBytes: null, since: null }),
      row('c', { rxBytes: 5, txBytes: 0, since: '2026-01-01T00:00:00.000Z' }),
    ];
    expect(names(sortTableRows(rows, 'state', false))).toEqual(['c', 'a', 'b']);
    expect(names(sortTableRows(rows, 'total', true))).toEqual(['b', 'c', 'a']);
    expect(names(sortTableRows(rows, 'since', false))).toEqual(['c', 'b', 'a']);
  });

  const rowArb = fc.record({
    state: fc.constantFrom('up' as const, 'down' as const), encap: fc.constantFrom('gre', 'fou', 'gue'),
    hub: fc.option(fc.constantFrom('hub-a', 'hub-b'), { nil: null }), seen: fc.option(fc.ipV4(), { nil: null }),
    inner: fc.ipV4(), since: fc.option(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), { nil: null }),
    rxBytes: fc.option(fc.nat(), { nil: null }), txBytes: fc.nat(),
    rx: fc.option(fc.nat(), { nil: null }), tx: fc.option(fc.nat(), { nil: null }),
  });
  const rowsArb = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), { maxLength: 30 })
    .chain((ns) => fc.tuple(...ns.map((n) => rowArb.map(({ rx, tx, ...extra }) => row(n, extra, rx, tx)))));

  it('gives one order whatever the order it started from, the same rows, valued rows first, by the column (property)', () => {
    fc.assert(fc.property(rowsArb, fc.constantFrom(...columns), fc.boolean(), fc.integer(), (rows, column, descending, seed) => {
      const sorted = sortTableRows(rows, column, descending);
      const shuffled = [...rows].sort((a, b) => ((a.peer.name.length * seed) % 7) - ((b.peer.name.length * seed) % 7));
      expect(names(sortTableRows(shuffled, column, descending))).toEqual(names(sorted));
      expect(names(sorted).sort()).toEqual(names(rows).sort());
      // Numbers and dates by value; the rest as the page shows them, numbers inside as numbers.
      const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
      const value = (r: StatusTableRow): string | number | null => ({
        name: r.peer.name, state: r.peer.state === 'up' ? 0 : 1, hub: r.peer.hub, encap: r.peer.encap, endpoint: r.peer.seen, inner: r.peer.inner,
        rx: r.rx, tx: r.tx, total: r.peer.rxBytes === null || r.peer.txBytes === null ? null : r.peer.rxBytes + r.peer.txBytes, since: r.peer.since,
      })[column];
      for (let i = 1; i < sorted.length; i += 1) {
        const [a, b] = [value(sorted[i - 1]!), value(sorted[i]!)];
        if (a === null) expect(b).toBeNull();
        else if (b !== null) {
          const order = typeof a === 'number' && typeof b === 'number' ? a - b : column === 'since' ? a < b ? -1 : a > b ? 1 : 0 : collator.compare(String(a), String(b));
          expect(descending ? -order : order).toBeLessThanOrEqual(0);
          if (order === 0) expect(collator.compare(sorted[i - 1]!.peer.name, sorted[i]!.peer.name)).toBeLessThanOrEqual(0);
        }
      }
    }));
  });

  it('keeps exactly the rows every condition holds for (property)', () => {
    const filterArb = fc.record({
      search: fc.constantFrom('', '10.', 'a', 'b 1', '203'), state: fc.constantFrom('' as const, 'up' as const, 'down' as const),
      encap: fc.constantFrom('', 'gre', 'gue'), hub: fc.constantFrom('', 'hub-a'),
    });
    fc.assert(fc.property(rowsArb, filterArb, (rows, filter) => {
      const kept = rows.filter(tableFilter(filter));
      for (const r of rows) {
        const text = [r.peer.name, r.peer.inner, r.peer.seen ?? '', r.peer.reported ?? ''].join(' ');
        const expected = (filter.state === '' || r.peer.state === filter.state) && (filter.encap === '' || r.peer.encap === filter.encap)
          && (filter.hub === '' || r.peer.hub === filter.hub) && filter.search.split(' ').filter(Boolean).every((w) => text.includes(w));
        expect(kept.includes(r)).toBe(expected);
      }
    }));
  });
});

describe('the virtual window (virtualWindow, which the page runs)', () => {
  it('draws the rows seen and a few each side, from where the first one starts', () => {
    expect(virtualWindow(0, 320, 32, 5_000, 4)).toEqual({ first: 0, end: 14, offset: 0, height: 160_000 });
    expect(virtualWindow(3_210, 320, 32, 5_000, 4)).toEqual({ first: 96, end: 115, offset: 3_072, height: 160_000 });
    // Past the end (the list got shorter under a scrolled view): the last rows.
    expect(virtualWindow(1e9, 320, 32, 5_000, 4)).toEqual({ first: 4_986, end: 5_000, offset: 159_552, height: 160_000 });
    expect(virtualWindow(100, 320, 32, 0, 4)).toEqual({ first: 0, end: 0, offset: 0, height: 0 });
  });

  it('draws every row the viewport shows, and never more than it can show plus the overscan (property)', () => {
    fc.assert(fc.property(fc.nat(10_000), fc.integer({ min: 1, max: 2_000 }), fc.integer({ min: 1, max: 80 }), fc.nat(20_000), fc.nat(20),
      (scrollTop, viewport, rowHeight, count, overscan) => {
        const w = virtualWindow(scrollTop, viewport, rowHeight, count, overscan);
        expect(0 <= w.first && w.first <= w.end && w.end <= count).toBe(true);
        expect(w.offset).toBe(w.first * rowHeight);
        expect(w.end - w.first).toBeLessThanOrEqual(Math.ceil(viewport / rowHeight) + 1 + 2 * overscan);
        const top = Math.min(scrollTop, Math.max(0, count * rowHeight - viewport));
        for (let i = Math.floor(top / rowHeight); i < count && i * rowHeight < top + viewport; i += 1) {
          expect(i >= w.first && i < w.end).toBe(true);
        }
      }));
  });
});
