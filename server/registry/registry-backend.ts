import type { RegistrySnapshot } from './registry-snapshot.js';

/**
 * Runs the registry's SQL, asynchronously. Statements take `?` placeholders in both dialects.
 * A top-level executor runs each statement on its own (autocommit); the executor a
 * {@link SqlExecutor.transaction} callback receives runs everything inside that transaction.
 * It does not say which engine it is: the stores write SQL both run, and what differs stays in
 * the backends and the schema steps.
 */
export interface SqlExecutor {
  /** The first row, or undefined. */
  get<T>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** Every row. */
  all<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** A statement that returns no rows; how many rows it changed. */
  run(sql: string, ...params: unknown[]): Promise<{ changes: number }>;
  /**
   * Runs `fn` in one serialised write transaction: the write lock is taken up front, so two
   * writers (in this process or any other) never both read "free" and then both write. With a
   * `scope`, only that peer's writers are serialised (see {@link WriteScope}). Inside a
   * transaction it opens a savepoint (the outer transaction's lock holds): a refusal rolls back
   * only what `fn` did.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, scope?: WriteScope): Promise<T>;
}

/**
 * A write transaction that touches only one peer's own rows (its session claim, its endpoint
 * history, the specs issued for its hub link) serialises on that peer's row instead of the whole
 * registry: a hub taking over a thousand members writes for many of them at once, while two
 * writers of the same peer (two hubs claiming it, or a `peer remove`) still wait for each other.
 * Allocations never use it. SQLite has one writer at a time either way.
 */
export interface WriteScope {
  readonly peer: string;
}

/** Cancels a change watch. */
export interface ChangeWatch {
  stop(): Promise<void>;
}

/**
 * What a registry backend (SQLite file or PostgreSQL server) provides beneath the stores, which
 * are written once against {@link SqlExecutor}: the schema (migrated on open), change
 * notifications, a full dump for tests, and closing.
 */
export interface RegistryBackend extends SqlExecutor {
  /** `sqlite:PATH` or the PostgreSQL URL with any password hidden, for messages and status. */
  readonly location: string;
  /**
   * Calls `changed` after other connections (another process, another hub) committed changes,
   * at most about `pollMs` late where the engine has to be polled.
   */
  watchChanges(changed: () => void, onError: (err: Error) => void, pollMs: number): ChangeWatch;
  /** Every row of every table, to check that a refused operation changed nothing. */
  exportTables(): Promise<RegistrySnapshot>;
  /**
   * A consistent copy of the whole registry in `file` (mode 0600), taken while others keep
   * reading and writing; a backend that cannot make one refuses with the tool that can.
   */
  backup(file: string): Promise<void>;
  /** Closes the connection(s); later use rejects. */
  close(): Promise<void>;
}
