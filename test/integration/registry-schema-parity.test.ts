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

describe('the registry schema', () => {
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
      expect(new Set(sqlite.map((c) => c.table)).size).toBe(20);
      expect(postgres.length).toBeGreaterThan(40);
      expect(schemaDifferences(sqlite, postgres)).toEqual([]);
    });
  });
});
