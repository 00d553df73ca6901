import type pg from 'pg';

/** The NOTIFY channel registry changes are announced on; the payload is `SCHEMA ORIGIN`. */
export const CHANGE_CHANNEL = 'tunnel_registry';

/**
 * Tables whose writes never change what another hub runs: bookkeeping, the audit log (it always
 * accompanies a change of its own), and what one hub issued or applied for the members it serves.
 * Announcing them would only make every hub reconcile after every routine write of every other.
 */
const QUIET_TABLES: ReadonlySet<string> = new Set([
  'schema_migrations', 'registry_write_lock', 'audit_log', 'hub_end_specs', 'peer_configs', 'cluster_secrets',
]);

/** Tables where only some columns matter on UPDATE (an endpoint seen again refreshes `seen_at` only). */
const UPDATE_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  endpoints: ['address', 'port', 'source'],
  // a heartbeat is not news; a hub that joins, moves or starts serving is
  hubs: ['endpoint', 'host_key_fingerprint', 'ws_url', 'ssh_port', 'started_at'],
  // traffic across a shortcut (last_active_at) is not news either
  link_shortcuts: ['why'],
};

/**
 * Creates the notifying trigger function and puts a trigger on every registry table that lacks
 * one, so a table added by a later migration is announced without further code. Row triggers fire
 * only for rows that changed; a transaction's identical notifications arrive once, at commit.
 * The payload's origin comes from the writer's `tunnel.origin` setting (empty for a psql session).
 */
export async function ensureChangeTriggers(client: pg.ClientBase): Promise<void> {
  await client.query(`
    CREATE OR REPLACE FUNCTION registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('${CHANGE_CHANNEL}', current_schema() || ' ' || coalesce(current_setting('tunnel.origin', true), ''));
      RETURN NULL;
    END
    $$;`);
  const { rows } = await client.query<{ name: string }>(`
    SELECT t.tablename AS name FROM pg_tables t
    WHERE t.schemaname = current_schema()
      AND NOT EXISTS (SELECT 1 FROM pg_trigger g
                      WHERE g.tgrelid = (quote_ident(t.schemaname) || '.' || quote_ident(t.tablename))::regclass
                        AND g.tgname = 'registry_changed')`);
  for (const { name } of rows) {
    if (QUIET_TABLES.has(name)) continue;
    const table = `"${name.replaceAll('"', '""')}"`;
    const columns = UPDATE_COLUMNS[name];
    if (columns === undefined) {
      await client.query(`CREATE TRIGGER registry_changed AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION registry_changed()`);
      continue;
    }
    const changedColumns = columns.map((column) => `OLD.${column} IS DISTINCT FROM NEW.${column}`).join(' OR ');
    await client.query(`CREATE TRIGGER registry_changed AFTER INSERT OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION registry_changed()`);
    await client.query(`CREATE TRIGGER registry_changed_update AFTER UPDATE ON ${table} FOR EACH ROW WHEN (${changedColumns}) EXECUTE FUNCTION registry_changed()`);
  }
}
