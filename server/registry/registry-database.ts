import { chmodSync, closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { TunnelError } from '../../shared/errors.js';
import { MIGRATIONS } from './migrations.js';

/** How long a writer waits for another process's transaction before giving up (ms). */
const BUSY_TIMEOUT_MS = 30_000;

/** Options for {@link RegistryDatabase.open}. */
export interface RegistryDatabaseOptions {
  /** Open without writing anything (no migrations, no file creation). */
  readonly?: boolean;
}

/** A better-sqlite3 connection with the registry's pragmas, migrations and a statement cache. */
export class RegistryDatabase {
  private readonly statements = new Map<string, Database.Statement>();
  // One wrapper for every transaction: better-sqlite3 builds a new one per db.transaction() call.
  private readonly runInTransaction: Database.Transaction<(fn: () => unknown) => unknown>;

  private constructor(readonly db: Database.Database) {
    this.runInTransaction = db.transaction((fn: () => unknown) => fn());
  }

  /**
   * Opens (creating when needed, mode 0600) the registry file at `path`, or `:memory:` for tests.
   * WAL lets readers run beside a writer; the busy timeout makes a second process wait its turn
   * instead of failing.
   */
  static open(path: string, options: RegistryDatabaseOptions = {}): RegistryDatabase {
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
    const registryDb = new RegistryDatabase(db);
    if (!options.readonly) registryDb.migrate();
    else registryDb.checkSchemaVersion();
    return registryDb;
  }

  /** A prepared statement, compiled once per connection. */
  statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Runs `fn` in one BEGIN IMMEDIATE transaction (a savepoint when already inside one): the write
   * lock is taken up front, so two processes never both read "free" and then both write.
   */
  immediate<T>(fn: () => T): T {
    return this.runInTransaction.immediate(fn) as T;
  }

  /** Closes the connection; further use throws. */
  close(): void {
    this.statements.clear();
    this.db.close();
  }

  private migrate(): void {
    this.immediate(() => {
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > MIGRATIONS.length) {
        throw new TunnelError('ERR_STATE', `the registry has schema version ${version}, newer than this program knows (${MIGRATIONS.length}); upgrade tunnel-hub`);
      }
      for (let step = version; step < MIGRATIONS.length; step++) {
        this.db.exec(MIGRATIONS[step] ?? '');
        this.db.pragma(`user_version = ${step + 1}`);
      }
    });
  }

  private checkSchemaVersion(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version !== MIGRATIONS.length) {
      throw new TunnelError('ERR_STATE', `the registry has schema version ${version}, this program expects ${MIGRATIONS.length}`);
    }
  }
}
