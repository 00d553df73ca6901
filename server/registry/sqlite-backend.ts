import { chmodSync, closeSync, openSync, renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { TunnelError } from '../../shared/errors.js';
import { AsyncMutex } from './async-mutex.js';
import type { ChangeWatch, RegistryBackend, SqlExecutor } from './registry-backend.js';
import type { RegistrySnapshot } from './registry-snapshot.js';
import { SCHEMA_STEPS } from './schema/schema-steps.js';
import { migrateSqlite } from './sqlite-migrate.js';

/** How long a writer waits for another process's transaction before giving up (ms). */
const BUSY_TIMEOUT_MS = 30_000;

/** Options for {@link SqliteBackend.open}. */
export interface SqliteBackendOptions {
  /** Open without writing anything (no migrations, no file creation). */
  readonly?: boolean;
}

/** Statements on the one connection; subclasses decide when a statement may run. */
abstract class SqliteStatements implements SqlExecutor {
  get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return this.execute(() => this.statement(sql).get(...params) as T | undefined);
  }

  all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return this.execute(() => this.statement(sql).all(...params) as T[]);
  }

  run(sql: string, ...params: unknown[]): Promise<{ changes: number }> {
    return this.execute(() => ({ changes: this.statement(sql).run(...params).changes }));
  }

  abstract transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;

  protected abstract statement(sql: string): Database.Statement;

  /** Runs `op` (synchronous better-sqlite3 work) when this executor may use the connection. */
  protected abstract execute<T>(op: () => T): Promise<T>;
}

/** A write waiting to run in the turn's transaction. */
interface QueuedWrite {
  readonly sql: string;
  readonly params: unknown[];
  resolve(result: { changes: number }): void;
  reject(err: Error): void;
}

/**
 * The embedded registry: one better-sqlite3 connection with the registry's pragmas, migrations
 * and a statement cache. better-sqlite3 is synchronous; its answers are wrapped in Promises to
 * meet the shared contract. A transaction holds an in-process lock while its function runs, and
 * statements from other callers wait for it, so nothing interleaves on the connection.
 *
 * Writes outside a transaction (`run`) share a commit: they queue, and run in one transaction
 * at the end of the event-loop turn (setImmediate), or earlier, first thing, when a read, a
 * transaction (the queued writes go into its BEGIN, before its own work) or close comes next, so
 * every statement still runs in the order called. A write resolves only once committed, so it is
 * as durable as before; a failed statement refuses its caller alone. No transaction is held
 * across a turn (another connection in this process would wait on it synchronously). A storm of
 * a thousand acks costs one commit instead of a thousand.
 */
export class SqliteBackend extends SqliteStatements implements RegistryBackend {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly lock = new AsyncMutex();
  private queued: QueuedWrite[] = [];

  private constructor(private readonly db: Database.Database, readonly location: string, private readonly readonly: boolean) {
    super();
  }

  /**
   * Opens (creating when needed, mode 0600) the registry file at `path`, or `:memory:` for tests.
   * WAL lets readers run beside a writer; the busy timeout makes a second process wait its turn
   * instead of failing.
   */
  static open(path: string, options: SqliteBackendOptions = {}): SqliteBackend {
    const onDisk = path !== ':memory:';
    let db: Database.Database;
    try {
      if (onDisk && !options.readonly) {
        // Create the file ourselves so it never exists with the umask's wider mode.
        closeSync(openSync(path, 'a', 0o600));
        chmodSync(path, 0o600);
      }
      db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false, timeout: BUSY_TIMEOUT_MS });
    } catch (err) {
      throw new TunnelError('ERR_STATE', `cannot open the registry ${path}: ${(err as Error).message}`, { cause: err });
    }
    db.pragma('foreign_keys = ON');
    if (!options.readonly) {
      if (onDisk) db.pragma('journal_mode = WAL');
      // In WAL mode NORMAL never corrupts; a power cut may lose only the last commits.
      db.pragma('synchronous = NORMAL');
      // 32 MiB of page cache (the default is 2 MiB): a hub with many thousands of peers keeps
      // its hot indexes in memory and large admin transactions do not spill mid-way.
      db.pragma('cache_size = -32768');
    }
    const backend = new SqliteBackend(db, `sqlite:${path}`, options.readonly ?? false);
    try {
      if (!options.readonly) migrateSqlite(db, SCHEMA_STEPS);
      else backend.checkSchemaVersion();
    } catch (err) {
      db.close();
      throw err;
    }
    return backend;
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      const settleQueued = this.runQueued();
      const tx = new SqliteTransaction(this.db, (sql) => this.statement(sql));
      let result: T;
      try {
        this.db.exec('SAVEPOINT work');
        result = await fn(tx);
        this.db.exec('RELEASE work');
      } catch (err) {
        // Only the transaction's own work is undone; the writes queued before it still commit.
        // SQLite may already have rolled everything back by itself (e.g. on a full disk).
        if (this.db.inTransaction) {
          this.db.exec('ROLLBACK TO work; RELEASE work');
          settleQueued(this.commit());
        } else {
          settleQueued(err instanceof Error ? err : new Error(String(err)));
        }
        throw err;
      } finally {
        tx.end();
      }
      const failure = this.commit();
      settleQueued(failure);
      if (failure) throw failure;
      return result;
    });
  }

  override run(sql: string, ...params: unknown[]): Promise<{ changes: number }> {
    if (this.readonly) return super.run(sql, ...params);
    const enqueue = (): Promise<{ changes: number }> => new Promise((resolve, reject) => {
      if (this.queued.length === 0) setImmediate(() => this.flushSoon());
      this.queued.push({ sql, params, resolve, reject });
    });
    // Behind a transaction that runs or waits, as every statement is (the queue's promise is not
    // awaited under the lock: its flush may need the lock).
    if (this.lock.busy) return this.lock.run(async () => ({ queued: enqueue() })).then(({ queued }) => queued);
    return enqueue();
  }

  /**
   * Polls SQLite's data_version: it changes whenever another connection (another process, such
   * as the admin CLI) commits. This connection's own writes do not move it, so the hub's own
   * reconfigurations never loop back.
   */
  watchChanges(changed: () => void, onError: (err: Error) => void, pollMs: number): ChangeWatch {
    // Prepared once: the poll runs ten times a second for the life of the hub.
    const dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    const version = (): number => dataVersion.get() as number;
    let seen = version();
    const timer = setInterval(() => {
      try {
        const now = version();
        if (now === seen) return;
        seen = now;
        changed();
      } catch (err) {
        onError(err as Error);
      }
    }, pollMs);
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
      },
    };
  }

  async exportTables(): Promise<RegistrySnapshot> {
    return this.lock.run(async () => {
      this.flushWrites();
      const names = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
      const tables: Record<string, unknown[]> = {};
      for (const { name } of names) {
        // Names come from sqlite_master itself, so quoting them is safe.
        tables[name] = this.db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}" ORDER BY rowid`).all();
      }
      return { schemaVersion: this.db.pragma('user_version', { simple: true }) as number, tables };
    });
  }

  /**
   * SQLite's online backup API, page by page between other statements: a consistent snapshot
   * even while the hub and admin commands keep writing. Written beside `file` and renamed over
   * it, so a crash never leaves half a backup under its name.
   */
  async backup(file: string): Promise<void> {
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      closeSync(openSync(temporary, 'w', 0o600));
      await this.lock.run(async () => this.flushWrites());
      await this.db.backup(temporary);
      chmodSync(temporary, 0o600);
      renameSync(temporary, file);
    } catch (err) {
      rmSync(temporary, { force: true });
      throw new TunnelError('ERR_SYSTEM', `backing the registry up to ${file} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.lock.run(async () => {
      this.flushWrites();
      this.statements.clear();
      if (this.db.open) this.db.close();
    });
  }

  /** A prepared statement, compiled once per connection. */
  protected statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** At the end of the turn the first queued write came in: runs the queue, after a transaction running now. */
  private flushSoon(): void {
    if (this.queued.length === 0) return;
    if (this.lock.busy) void this.lock.run(async () => this.flushWrites());
    else this.flushWrites();
  }

  /** Runs the queued writes in one transaction now and settles their callers. */
  private flushWrites(): void {
    if (this.queued.length === 0) return;
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      const writes = this.queued;
      this.queued = [];
      for (const write of writes) write.reject(err as Error);
      return;
    }
    this.runQueued()(this.commit());
  }

  /**
   * Runs the queued writes inside the open transaction, each on its own (a failed statement undoes
   * itself only); returns how to settle their callers once the transaction ended, with its failure.
   */
  private runQueued(): (failure: Error | undefined) => void {
    const writes = this.queued;
    this.queued = [];
    const outcomes: ({ changes: number } | Error)[] = [];
    for (const write of writes) {
      try {
        outcomes.push({ changes: this.statement(write.sql).run(...write.params).changes });
      } catch (err) {
        outcomes.push(err as Error);
      }
    }
    return (failure) => {
      writes.forEach((write, i) => {
        const outcome = outcomes[i]!;
        if (outcome instanceof Error) write.reject(outcome);
        else if (failure) write.reject(failure);
        else write.resolve(outcome);
      });
    };
  }

  /** COMMIT; the error when the transaction is gone (SQLite rolled it back) or the commit failed. */
  private commit(): Error | undefined {
    if (!this.db.inTransaction) return new TunnelError('ERR_SYSTEM', 'the registry rolled the transaction back');
    try {
      this.db.exec('COMMIT');
      return undefined;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      return new TunnelError('ERR_SYSTEM', `the registry could not commit: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Runs `op` now when no transaction holds the connection, else after it (in turn). */
  protected execute<T>(op: () => T): Promise<T> {
    // Writes queued before this statement run first: order is the order of the calls.
    const ordered = (): T => {
      this.flushWrites();
      return op();
    };
    if (this.lock.busy) return this.lock.run(async () => ordered());
    try {
      return Promise.resolve(ordered());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private checkSchemaVersion(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version !== SCHEMA_STEPS.length) {
      throw new TunnelError('ERR_STATE', `the registry has schema version ${version}, this program expects ${SCHEMA_STEPS.length}`);
    }
  }
}

/** The executor inside one SQLite transaction; nested transactions are savepoints. */
class SqliteTransaction extends SqliteStatements {
  private ended = false;
  private depth = 0;

  constructor(private readonly db: Database.Database, private readonly prepare: (sql: string) => Database.Statement) {
    super();
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.check();
    const name = `s${++this.depth}`;
    this.db.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      this.db.exec(`RELEASE ${name}`);
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw err;
    } finally {
      this.depth -= 1;
    }
  }

  /** Marks the transaction finished: a callback that kept this executor cannot write outside it. */
  end(): void {
    this.ended = true;
  }

  protected statement(sql: string): Database.Statement {
    return this.prepare(sql);
  }

  protected execute<T>(op: () => T): Promise<T> {
    try {
      this.check();
      return Promise.resolve(op());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private check(): void {
    if (this.ended) throw new TunnelError('ERR_INTERNAL', 'a registry transaction was used after it ended');
  }
}
