import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratePostgres } from '../../server/registry/postgres-migrate.js';
import { Registry } from '../../server/registry/registry.js';
import { SCHEMA_STEPS } from '../../server/registry/schema/schema-steps.js';
import { migrateSqlite } from '../../server/registry/sqlite-migrate.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';

const pgReason = postgresUnavailableReason();
if (pgReason) console.warn(`skipping PostgreSQL migrations: ${pgReason}`);

/** The step after which an older program stopped: before revocation (revoked_at) and router access. */
const OLD_STEPS = 3;

describe('SQLite migrations', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tunnel-migrate-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('upgrade a registry an older program left, keeping its rows', async () => {
    const file = join(dir, 'old.sqlite');
    const old = new Database(file);
    migrateSqlite(old, SCHEMA_STEPS.slice(0, OLD_STEPS));
    old.exec("INSERT INTO hub (id, endpoint, created_at) VALUES (1, '198.51.100.1', 1)");
    old.exec("INSERT INTO peers (name, token_version, created_at) VALUES ('old', 1, 1)");
    old.exec("INSERT INTO peers (name, token_version, pinned_encap, created_at) VALUES ('pinned', 2, 'fou', 1)");
    old.close();
    const registry = await Registry.open(file);
    try {
      expect((await registry.exportTables()).schemaVersion).toBe(SCHEMA_STEPS.length);
      expect(await registry.peers.find('old')).toMatchObject({ name: 'old', revokedAt: null, pinnedEncap: null });
      // A pin set before pins moved to their own table is kept, and gretap can be pinned now.
      expect(await registry.peers.find('pinned')).toMatchObject({ pinnedEncap: 'fou' });
      await registry.peers.setPinnedEncap('pinned', 'gretap');
      expect(await registry.peers.find('pinned')).toMatchObject({ pinnedEncap: 'gretap' });
    } finally {
      await registry.close();
    }
  });

  it('refuse a schema newer than this program, changing nothing', async () => {
    const file = join(dir, 'newer.sqlite');
    const newer = new Database(file);
    migrateSqlite(newer, SCHEMA_STEPS);
    newer.pragma(`user_version = ${SCHEMA_STEPS.length + 1}`);
    newer.exec("INSERT INTO hub (id, endpoint, created_at) VALUES (1, '198.51.100.1', 1)");
    const dump = (db: Database.Database): unknown => db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();
    const before = dump(newer);
    newer.close();
    await expect(Registry.open(file)).rejects.toMatchObject({ code: 'ERR_STATE', message: expect.stringMatching(/upgrade tunnel-hub/) });
    const after = new Database(file, { readonly: true });
    try {
      expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_STEPS.length + 1);
      expect(dump(after)).toEqual(before);
      expect(after.prepare('SELECT endpoint FROM hub').all()).toEqual([{ endpoint: '198.51.100.1' }]);
    } finally {
      after.close();
    }
  });
});

describe.skipIf(pgReason !== null)('PostgreSQL migrations', () => {
  let server: PostgresServer;
  let databases = 0;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => server?.close());
  const freshUrl = (): Promise<string> => server.createDatabase(`migrate_${++databases}`);

  it('create the whole schema on an empty database, with change triggers', async () => {
    const url = await freshUrl();
    const registry = await Registry.open(url);
    try {
      const snapshot = await registry.exportTables();
      expect(snapshot.schemaVersion).toBe(SCHEMA_STEPS.length);
      expect(Object.keys(snapshot.tables)).toEqual(expect.arrayContaining([
        'allocations', 'audit_log', 'endpoints', 'free_subnets', 'hub', 'invites', 'links', 'peers', 'pools', 'ssh_keys', 'schema_migrations',
      ]));
    } finally {
      await registry.close();
    }
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ table: string }>("SELECT c.relname AS table FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = 'registry_changed' ORDER BY 1");
      expect(rows.map((r) => r.table)).toEqual(expect.arrayContaining(['peers', 'links', 'pools', 'endpoints']));
      expect(rows.map((r) => r.table)).not.toContain('audit_log');
    } finally {
      await client.end();
    }
  });

  it('upgrade a database an older program left, keeping its rows; opening again changes nothing', async () => {
    const url = await freshUrl();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await migratePostgres(client, SCHEMA_STEPS.slice(0, OLD_STEPS));
      await client.query("INSERT INTO hub (id, endpoint, created_at) VALUES (1, '198.51.100.1', 1)");
      await client.query("INSERT INTO peers (name, token_version, created_at) VALUES ('old', 1, 1)");
      await client.query("INSERT INTO peers (name, token_version, pinned_encap, created_at) VALUES ('pinned', 2, 'fou', 1)");
    } finally {
      await client.end();
    }
    const registry = await Registry.open(url);
    let first;
    try {
      first = await registry.exportTables();
      expect(first.schemaVersion).toBe(SCHEMA_STEPS.length);
      expect(await registry.peers.find('old')).toMatchObject({ name: 'old', revokedAt: null });
      expect(await registry.peers.find('pinned')).toMatchObject({ pinnedEncap: 'fou' });
    } finally {
      await registry.close();
    }
    const again = await Registry.open(url);
    try {
      expect(await again.exportTables()).toEqual(first);
    } finally {
      await again.close();
    }
  });

  it('two hubs opening an empty database at once both get the whole schema, once', async () => {
    const url = await freshUrl();
    const [a, b] = await Promise.all([Registry.open(url), Registry.open(url)]);
    try {
      const snapshot = await a.exportTables();
      expect(snapshot.schemaVersion).toBe(SCHEMA_STEPS.length);
      expect(snapshot.tables.schema_migrations).toHaveLength(SCHEMA_STEPS.length);
      await a.settings.setEndpoint('198.51.100.1');
      expect((await b.settings.require()).endpoint).toBe('198.51.100.1');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('refuse a schema newer than this program, changing nothing', async () => {
    const url = await freshUrl();
    const registry = await Registry.open(url);
    await registry.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [SCHEMA_STEPS.length + 1]);
      await expect(Registry.open(url)).rejects.toMatchObject({ code: 'ERR_STATE', message: expect.stringMatching(/upgrade tunnel-hub/) });
      const { rows } = await client.query('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0]).toEqual({ n: SCHEMA_STEPS.length + 1 });
    } finally {
      await client.end();
    }
  });

  it('refuse an unreachable server with a coded error', async () => {
    const url = server.url('postgres').replace(`port=${server.port}`, 'port=1');
    await expect(Registry.open(url)).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNAVAILABLE' });
  });
});
