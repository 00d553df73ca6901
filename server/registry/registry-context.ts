import type { SqlExecutor, WriteScope } from './registry-backend.js';
import type { Registry } from './registry.js';

/** Milliseconds since the epoch; injectable so tests control expiry and timestamps. */
export type Clock = () => number;

/** What every store shares: the SQL executor it is bound to, the clock, and transactions. */
export interface RegistryContext {
  readonly sql: SqlExecutor;
  readonly clock: Clock;
  /**
   * Runs `fn` in one transaction (a savepoint when already inside one) and hands it the
   * registry bound to that transaction: a store calls its own body on `tx`'s store of its kind.
   * A `scope` serialises on one peer only, for writes of that peer's own rows ({@link WriteScope}).
   */
  transaction<T>(fn: (tx: Registry) => Promise<T>, scope?: WriteScope): Promise<T>;
}
