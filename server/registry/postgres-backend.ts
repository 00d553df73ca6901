import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { TunnelError } from '../../shared/errors.js';
import { CHANGE_CHANNEL } from './postgres-change-triggers.js';
import { migratePostgres } from './postgres-migrate.js';
import type { ChangeWatch, RegistryBackend, SqlExecutor, WriteScope } from './registry-backend.js';
import type { RegistrySnapshot } from './registry-snapshot.js';
import { SCHEMA_STEPS } from './schema/schema-steps.js';

/** PostgreSQL's OID of int8: counts, ids, milliseconds and addresses, all well inside 2^53. */
const INT8_OID = 20;

/** How long to wait for a connection before calling the registry unavailable (ms). */
const CONNECT_TIMEOUT_MS = 5_000;

/** Longest wait between attempts to re-open the notification connection (ms). */
const MAX_LISTEN_RETRY_MS = 5_000;

/** Opens a write transaction and takes the registry-wide write lock. */
const BEGIN_AND_LOCK = 'BEGIN; SELECT id FROM registry_write_lock WHERE id = 1 FOR UPDATE';

/** Connections kept by one hub: enough for the control plane, the front doors and the CLI's work. */
const POOL_SIZE = 10;

const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => (oid === INT8_OID ? (text: string) => Number(text) : pg.types.getTypeParser(oid, format as 'text'))) as pg.CustomTypesConfig['getTypeParser'],
};

/** Options for {@link PostgresBackend.open}. */
export interface PostgresBackendOptions {
  /** Check the schema version only: no migrations, no writes. */
  readonly?: boolean;
}

/**
 * The shared registry of several hubs: a PostgreSQL database reached through a pool of `pg`
 * connections. Write transactions are serialised registry-wide by a row lock (`SELECT … FOR UPDATE`
 * on `registry_write_lock`), which gives every store the same guarantee SQLite's BEGIN IMMEDIATE
 * does: no two writers both read "free" and then both write, whichever hub they run in (a write
 * scoped to one peer, {@link WriteScope}, locks that peer's row instead). Changes are announced by triggers with NOTIFY; each connection carries this backend's origin, so a hub
 * never reacts to its own writes.
 */
export class PostgresBackend implements RegistryBackend {
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly config: pg.PoolConfig,
    private readonly origin: string,
    readonly location: string,
  ) {}

  /** Connects to `url` (postgres://…), migrating the schema (creating it the first time) unless read-only. */
  static async open(url: string, options: PostgresBackendOptions = {}): Promise<PostgresBackend> {
    const origin = randomBytes(6).toString('hex');
    const config = connectionConfig(url, origin);
    const pool = new pg.Pool({ ...config, max: POOL_SIZE });
    // An idle connection the server dropped (a restart) is only reported here; the next query reconnects.
    pool.on('error', () => undefined);
    const backend = new PostgresBackend(pool, config, origin, redactUrl(url));
    try {
      if (options.readonly) await backend.checkSchemaVersion();
      else await backend.migrate();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw unavailable(err, backend.location);
    }
    return backend;
  }

  async get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return (await this.query<T>(sql, params))[0];
  }

  all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return this.query<T>(sql, params);
  }

  async run(sql: string, ...params: unknown[]): Promise<{ changes: number }> {
    const result = await this.pool.query(positional(sql), params).catch((err: unknown) => Promise.reject(unavailable(err, this.location)));
    return { changes: result.rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, scope?: WriteScope): Promise<T> {
    const client = await this.pool.connect().catch((err: unknown) => Promise.reject(unavailable(err, this.location)));
    let broken: Error | undefined;
    const tx = new PostgresTransaction(client, this.location);
    try {
      // BEGIN and the lock in one round trip (a simple query takes no parameters: the name goes in
      // as a literal escaped by pg): a burst of session starts pays every trip.
      // NO KEY: inserts that merely reference the peer (its endpoints, its links) are not held up.
      await client.query(scope ? `BEGIN; SELECT id FROM peers WHERE name = ${client.escapeLiteral(scope.peer)} FOR NO KEY UPDATE` : BEGIN_AND_LOCK);
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => {
        broken = rollbackErr;
      });
      throw unavailable(err, this.location);
    } finally {
      tx.end();
      client.release(broken);
    }
  }

  /**
   * LISTENs on one dedicated connection and calls `changed` for every change another hub or an
   * admin command committed. When the connection drops (a server restart), it reconnects with
   * backoff and then calls `changed` once, since notifications sent meanwhile are lost.
   */
  watchChanges(changed: () => void, onError: (err: Error) => void): ChangeWatch {
    let stopped = false;
    let client: pg.Client | undefined;
    let retryMs = 250;
    let timer: NodeJS.Timeout | undefined;
    const schedule = (): void => {
      if (stopped) return;
      timer = setTimeout(() => void connect(true), retryMs);
      timer.unref();
      retryMs = Math.min(retryMs * 2, MAX_LISTEN_RETRY_MS);
    };
    const connect = async (reconnect: boolean): Promise<void> => {
      const next = new pg.Client(this.config);
      next.on('error', (err) => {
        if (client !== next) return;
        client = undefined;
        onError(unavailable(err, this.location));
        void next.end().catch(() => undefined);
        schedule();
      });
      next.on('notification', (message) => {
        const [schema, origin] = (message.payload ?? '').split(' ');
        if (origin === this.origin || schema !== schemaOf.get(next)) return;
        changed();
      });
      try {
        await next.connect();
        const { rows } = await next.query<{ schema: string }>('SELECT current_schema() AS schema');
        schemaOf.set(next, rows[0]?.schema ?? '');
        await next.query(`LISTEN ${CHANGE_CHANNEL}`);
      } catch (err) {
        void next.end().catch(() => undefined);
        onError(unavailable(err, this.location));
        schedule();
        return;
      }
      if (stopped) {
        await next.end().catch(() => undefined);
        return;
      }
      client = next;
      retryMs = 250;
      if (reconnect) changed();
    };
    void connect(false);
    return {
      stop: async () => {
        stopped = true;
        clearTimeout(timer);
        const current = client;
        client = undefined;
        await current?.end().catch(() => undefined);
      },
    };
  }

  async exportTables(): Promise<RegistrySnapshot> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const { rows: names } = await client.query<{ name: string; key: string | null }>(`
        SELECT t.tablename AS name,
               (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY array_position(i.indkey, a.attnum))
                  FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                  WHERE i.indrelid = (quote_ident(t.schemaname) || '.' || quote_ident(t.tablename))::regclass AND i.indisprimary) AS key
        FROM pg_tables t WHERE t.schemaname = current_schema() ORDER BY t.tablename`);
      const tables: Record<string, unknown[]> = {};
      for (const { name, key } of names) {
        // Names come from the catalogue itself and are quoted by quote_ident.
        tables[name] = (await client.query(`SELECT * FROM ${quoteIdent(name)} ORDER BY ${key ?? '1'}`)).rows;
      }
      const version = await client.query<{ version: number }>('SELECT coalesce(max(version), 0) AS version FROM schema_migrations');
      await client.query('COMMIT');
      return { schemaVersion: version.rows[0]?.version ?? 0, tables };
    } finally {
      client.release();
    }
  }

  /**
   * Refused: PostgreSQL's own pg_dump takes a consistent dump of a live database, and the
   * database's operator already runs it (or replication) for everything else on the server.
   */
  async backup(file: string): Promise<void> {
    throw new TunnelError('ERR_BACKUP_UNSUPPORTED', `the registry is on PostgreSQL (${this.location}): back it up with PostgreSQL's own tool, e.g. \`pg_dump --format=custom --file ${file} 'URL'\`, and restore with pg_restore`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async query<T>(sql: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query(positional(sql), params)).rows as T[];
    } catch (err) {
      throw unavailable(err, this.location);
    }
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await migratePostgres(client, SCHEMA_STEPS);
    } finally {
      client.release();
    }
  }

  private async checkSchemaVersion(): Promise<void> {
    const { rows } = await this.pool.query<{ version: number }>('SELECT coalesce(max(version), 0) AS version FROM schema_migrations');
    const version = rows[0]?.version ?? 0;
    if (version !== SCHEMA_STEPS.length) {
      throw new TunnelError('ERR_STATE', `the registry has schema version ${version}, this program expects ${SCHEMA_STEPS.length}`);
    }
  }
}

/** The executor inside one PostgreSQL transaction, on its own pooled connection; nesting uses savepoints. */
class PostgresTransaction implements SqlExecutor {
  private ended = false;
  private depth = 0;

  constructor(private readonly client: pg.PoolClient, private readonly location: string) {}

  async get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return (await this.query<T>(sql, params)).rows[0];
  }

  async all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return (await this.query<T>(sql, params)).rows;
  }

  async run(sql: string, ...params: unknown[]): Promise<{ changes: number }> {
    return { changes: (await this.query(sql, params)).rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.check();
    const name = `s${++this.depth}`;
    await this.client.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      await this.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw err;
    } finally {
      this.depth -= 1;
    }
  }

  /** Marks the transaction finished: a callback that kept this executor cannot write outside it. */
  end(): void {
    this.ended = true;
  }

  private async query<T>(sql: string, params: unknown[]): Promise<pg.QueryResult & { rows: T[] }> {
    this.check();
    try {
      return await this.client.query(positional(sql), params);
    } catch (err) {
      throw unavailable(err, this.location);
    }
  }

  private check(): void {
    if (this.ended) throw new TunnelError('ERR_INTERNAL', 'a registry transaction was used after it ended');
  }
}

/** The schema each notification connection watches (several registries may share a database). */
const schemaOf = new WeakMap<pg.Client, string>();

const positionalCache = new Map<string, string>();

/** `?` placeholders (the stores' dialect) as PostgreSQL's `$1, $2, …`; quoted text is left alone. */
export function positional(sql: string): string {
  let converted = positionalCache.get(sql);
  if (converted === undefined) {
    let n = 0;
    converted = sql.replace(/'(?:[^']|'')*'|\?/g, (match) => (match === '?' ? `$${++n}` : match));
    positionalCache.set(sql, converted);
  }
  return converted;
}

/**
 * The pool's settings from the URL, with this backend's origin as a session setting
 * (`tunnel.origin`) that the change triggers put in every notification. Any `options` the URL
 * carries (e.g. `-c search_path=…`) are kept.
 */
function connectionConfig(url: string, origin: string): pg.PoolConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TunnelError('ERR_INVALID_CONFIG', `the registry URL ${redactUrl(url)} cannot be parsed; use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`);
  }
  const extra = parsed.searchParams.get('options') ?? '';
  parsed.searchParams.delete('options');
  return {
    connectionString: parsed.toString(),
    options: `${extra} -c tunnel.origin=${origin}`.trim(),
    types: TYPES,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
  };
}

/** The URL without its password, for messages, logs and status. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@/]*@/, '$1:***@');
}

/** Connection failures (server down, restarting, unreachable) become ERR_REGISTRY_UNAVAILABLE; others pass. */
function unavailable(err: unknown, location: string): Error {
  if (err instanceof TunnelError) return err;
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message ?? String(err);
  const connection = typeof code === 'string' && (/^(08|57P)/.test(code) || ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code));
  if (connection || /Connection terminated|timeout exceeded when trying to connect|Client was closed/i.test(message)) {
    return new TunnelError('ERR_REGISTRY_UNAVAILABLE', `the registry ${location} cannot be reached: ${message}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(message);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
