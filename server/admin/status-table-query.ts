import type { StatusViewPeer } from './status-view.js';

/** One row of the status page's table: a peer and its rates for the last sample (bit/s; null: none). */
export interface StatusTableRow {
  peer: StatusViewPeer;
  rx: number | null;
  tx: number | null;
}

/** The table's sortable columns. */
export type StatusTableColumn = 'name' | 'state' | 'hub' | 'encap' | 'endpoint' | 'inner' | 'rx' | 'tx' | 'total' | 'since';

/** What the table shows: words to search for and filters, '' meaning any. */
export interface StatusTableFilter {
  /** Words that must each be found in the name, the inner address or an endpoint (seen or reported). */
  search: string;
  state: '' | 'up' | 'down';
  encap: string;
  /** The cluster's hub serving the member. */
  hub: string;
}

/**
 * The predicate of a filter, built once so a keystroke costs one pass over the rows. Search is
 * case-insensitive. The status page runs this very function (its source is inlined), so it uses
 * nothing from outside itself.
 */
export function tableFilter(filter: StatusTableFilter): (row: StatusTableRow) => boolean {
  const words = filter.search.toLowerCase().split(/\s+/).filter((word) => word !== '');
  return (row) => {
    const peer = row.peer;
    if (filter.state !== '' && peer.state !== filter.state) return false;
    if (filter.encap !== '' && peer.encap !== filter.encap) return false;
    if (filter.hub !== '' && peer.hub !== filter.hub) return false;
    if (words.length === 0) return true;
    const text = (peer.name + ' ' + peer.inner + ' ' + (peer.seen ?? '') + ' ' + (peer.reported ?? '')).toLowerCase();
    return words.every((word) => text.includes(word));
  };
}

/**
 * The rows in the order of a column, ascending or descending, ties by name; rows without a value
 * (no rate, no tunnel, never seen) last either way. Numbers inside names and addresses count as
 * numbers (member-9 before member-10, 10.0.0.9 before 10.0.0.10) and letters ignore case. Each
 * row's key is computed once (digit runs padded), then compared as plain strings or numbers. The
 * status page runs this very function (its source is inlined), so it uses nothing from outside.
 */
export function sortTableRows(rows: readonly StatusTableRow[], column: StatusTableColumn, descending: boolean): StatusTableRow[] {
  const natural = (text: string): string => text.toLowerCase().replace(/\d+/g, (digits) => digits.padStart(12, '0'));
  const value = (row: StatusTableRow): string | number | null => {
    const peer = row.peer;
    switch (column) {
      case 'name': return natural(peer.name);
      case 'state': return peer.state === 'up' ? 0 : 1;
      case 'hub': return peer.hub === null ? null : natural(peer.hub);
      case 'encap': return peer.encap;
      case 'endpoint': return peer.seen === null ? null : natural(peer.seen);
      case 'inner': return natural(peer.inner);
      case 'rx': return row.rx;
      case 'tx': return row.tx;
      case 'total': return peer.rxBytes === null || peer.txBytes === null ? null : peer.rxBytes + peer.txBytes;
      case 'since': return peer.since;
    }
  };
  const keyed = rows.map((row) => ({ row, value: value(row), name: natural(row.peer.name), raw: row.peer.name }));
  const sign = descending ? -1 : 1;
  keyed.sort((a, b) => {
    if (a.value !== b.value) {
      if (a.value === null) return 1;
      if (b.value === null) return -1;
      return (a.value < b.value ? -1 : 1) * sign;
    }
    if (a.name !== b.name) return a.name < b.name ? -1 : 1;
    return a.raw < b.raw ? -1 : a.raw > b.raw ? 1 : 0;
  });
  return keyed.map((entry) => entry.row);
}
