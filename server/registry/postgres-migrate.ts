import type pg from 'pg';
import { TunnelError } from '../../shared/errors.js';
import { ensureChangeTriggers } from './postgres-change-triggers.js';
import type { SchemaStep } from './schema/schema-step.js';

/**
 * Brings the schema up to `steps` in one transaction: creates the bookkeeping tables the first
 * time, applies the PostgreSQL text of the steps `schema_migrations` does not list yet, and puts
 * change triggers on new tables. Hubs starting at once on an empty database serialise on an
 * advisory lock: one migrates, the others find it done. A schema newer than `steps` is refused
 * (ERR_STATE: upgrade tunnel-hub).
 */
export async function migratePostgres(client: pg.ClientBase, steps: readonly SchemaStep[]): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.tunnel-registry-migrations'))");
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);
      CREATE TABLE IF NOT EXISTS registry_write_lock (id INTEGER PRIMARY KEY CHECK (id = 1));
      INSERT INTO registry_write_lock (id) VALUES (1) ON CONFLICT DO NOTHING;`);
    const { rows } = await client.query<{ version: number }>('SELECT coalesce(max(version), 0) AS version FROM schema_migrations');
    const version = Number(rows[0]?.version ?? 0);
    if (version > steps.length) {
      throw new TunnelError('ERR_STATE', `the registry has schema version ${version}, newer than this program knows (${steps.length}); upgrade tunnel-hub`);
    }
    for (let step = version; step < steps.length; step++) {
      await client.query(steps[step]?.postgres ?? '');
      await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [step + 1, Date.now()]);
    }
    await ensureChangeTriggers(client);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
