import { describe, expect, it } from 'vitest';
import { schemaDifferences, type PostgresColumn, type SqliteColumn } from '../helpers/schema-differences.js';

// A small pair shaped like the registry's: an identity id, a nullable time, a text primary key.
const SQLITE: SqliteColumn[] = [
  { table: 'peers', name: 'id', type: 'INTEGER', notnull: 0, pk: 1 },
  { table: 'peers', name: 'name', type: 'TEXT', notnull: 1, pk: 0 },
  { table: 'peers', name: 'revoked_at', type: 'INTEGER', notnull: 0, pk: 0 },
  { table: 'peers', name: 'source_check', type: 'INTEGER', notnull: 1, pk: 0 },
  { table: 'hubs', name: 'name', type: 'TEXT', notnull: 0, pk: 1 },
];
const POSTGRES: PostgresColumn[] = [
  { table: 'peers', name: 'id', dataType: 'bigint', isNullable: 'NO', isIdentity: 'YES' },
  { table: 'peers', name: 'name', dataType: 'text', isNullable: 'NO', isIdentity: 'NO' },
  { table: 'peers', name: 'revoked_at', dataType: 'bigint', isNullable: 'YES', isIdentity: 'NO' },
  { table: 'peers', name: 'source_check', dataType: 'integer', isNullable: 'NO', isIdentity: 'NO' },
  { table: 'hubs', name: 'name', dataType: 'text', isNullable: 'NO', isIdentity: 'NO' },
];

const withPostgres = (table: string, name: string, change: Partial<PostgresColumn>): PostgresColumn[] =>
  POSTGRES.map((c) => (c.table === table && c.name === name ? { ...c, ...change } : c));

describe('schemaDifferences', () => {
  it('finds none in a matching pair, whatever the row order', () => {
    expect(schemaDifferences(SQLITE, POSTGRES)).toEqual([]);
    expect(schemaDifferences([...SQLITE].reverse(), [...POSTGRES].reverse())).toEqual([]);
  });

  it('names a column added on one side only', () => {
    const extra: PostgresColumn = { table: 'peers', name: 'note', dataType: 'text', isNullable: 'YES', isIdentity: 'NO' };
    expect(schemaDifferences(SQLITE, [...POSTGRES, extra])).toEqual(['peers.note: only on PostgreSQL']);
    expect(schemaDifferences([...SQLITE, { table: 'peers', name: 'note', type: 'TEXT', notnull: 0, pk: 0 }], POSTGRES)).toEqual(['peers.note: only on SQLite']);
  });

  it('names a table on one side only, once, not each of its columns', () => {
    expect(schemaDifferences(SQLITE.filter((c) => c.table !== 'hubs'), POSTGRES)).toEqual(['table hubs: only on PostgreSQL']);
    expect(schemaDifferences(SQLITE, POSTGRES.filter((c) => c.table !== 'hubs'))).toEqual(['table hubs: only on SQLite']);
  });

  it('names a nullability that differs', () => {
    expect(schemaDifferences(SQLITE, withPostgres('peers', 'revoked_at', { isNullable: 'NO' }))).toEqual([
      'peers.revoked_at: nullable on SQLite, NOT NULL on PostgreSQL',
    ]);
    expect(schemaDifferences(SQLITE, withPostgres('peers', 'name', { isNullable: 'YES' }))).toEqual([
      'peers.name: NOT NULL on SQLite, nullable on PostgreSQL',
    ]);
  });

  it('names a type outside the mapping, and a SQLite type the mapping lacks', () => {
    expect(schemaDifferences(SQLITE, withPostgres('peers', 'name', { dataType: 'bigint' }))).toEqual([
      'peers.name: TEXT on SQLite, bigint on PostgreSQL (expected text)',
    ]);
    const blob = SQLITE.map((c) => (c.name === 'name' && c.table === 'peers' ? { ...c, type: 'BLOB' } : c));
    expect(schemaDifferences(blob, POSTGRES)).toEqual(['peers.name: SQLite type BLOB has no PostgreSQL mapping']);
  });

  it('wants bigint for milliseconds and identity ids, integer being fine elsewhere', () => {
    expect(schemaDifferences(SQLITE, withPostgres('peers', 'revoked_at', { dataType: 'integer' }))).toEqual([
      'peers.revoked_at: integer on PostgreSQL, but milliseconds, networks, GRE keys and ids need bigint',
    ]);
    expect(schemaDifferences(SQLITE, withPostgres('peers', 'id', { dataType: 'integer' }))).toHaveLength(1);
    expect(schemaDifferences(SQLITE, withPostgres('peers', 'source_check', { dataType: 'bigint' }))).toEqual([]);
  });
});
