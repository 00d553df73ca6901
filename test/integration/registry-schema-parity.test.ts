import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../server/registry/postgres-backend.js';
import { SqliteBackend } from '../../server/registry/sqlite-backend.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { schemaDifferences, type PostgresColumn, type SqliteColumn } from '../helpers/schema-differences.js';

const pgReason = postgresUnavailableReason();
if (pgReason) console.warn(`skipping the PostgreSQL side of the schema comparison: ${pgReason}`);

/** Tables postgres-migrate.ts keeps for itself (SQLite's counterpart is `PRAGMA user_version`). */
const POSTGRES_BOOKKEEPING = ['registry_write_lock', 'schema_migrations'];

async function sqliteColumns(): Promise<SqliteColumn[]> {
  const backend = SqliteBackend.open(':memory:');
  try {
    // sqlite_sequence is SQLite's own (AUTOINCREMENT counters).
    return await backend.all<SqliteColumn>(`
      SELECT m.name AS "table", p.name, p.type, p."notnull", p.pk
      FROM sqlite_master m, pragma_table_info(m.name) p
      WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`);
  } finally {
    await backend.close();
  }
}

/** The table names in the registry table of server/README.md. */
function readmeTables(): string[] {
  const text = readFileSync(new URL('../../server/README.md', import.meta.url), 'utf8');
  const start = text.indexOf('| table | holds |');
  expect(start, 'server/README.md has a "| table | holds |" table').toBeGreaterThanOrEqual(0);
  const rows = text.slice(start).split('\n\n')[0]?.split('\n').slice(2) ?? [];
  return rows.map((row) => /^\| `([a-z_]+)` \|/.exec(row)?.[1] ?? `unreadable row: ${row}`);
}

describe('the registry schema', () => {
  it('server/README.md lists exactly the tables an empty SQLite registry gets', async () => {
    const tables = [...new Set((await sqliteColumns()).map((c) => c.table))].sort();
    expect(tables).toHaveLength(23);
    expect(readmeTables().sort()).toEqual(tables);
  });

  describe.skipIf(pgReason !== null)('on both backends', () => {
    let server: PostgresServer;
    beforeAll(async () => {
      server = await startPostgres();
    });
    afterAll(() => server?.close());

    it('has the same tables, columns, nullability and mapped types after migrating empty registries', async () => {
      const sqlite = await sqliteColumns();
      const backend = await PostgresBackend.open(await server.createDatabase('schema_parity'));
      let postgres: PostgresColumn[];
      try {
        postgres = await backend.all<PostgresColumn>(`
          SELECT table_name AS "table", column_name AS name, data_type AS "dataType",
                 is_nullable AS "isNullable", is_identity AS "isIdentity"
          FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name NOT IN (${POSTGRES_BOOKKEEPING.map(() => '?').join(', ')})`, ...POSTGRES_BOOKKEEPING);
      } finally {
        await backend.close();
      }
      // Both sides really were read: every table, and more than one column each.
      expect(new Set(sqlite.map((c) => c.table)).size).toBe(23);
      expect(postgres.length).toBeGreaterThan(40);
      expect(schemaDifferences(sqlite, postgres)).toEqual([]);
    });
  });
});
