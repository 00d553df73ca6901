import type { RegistryDatabase } from './registry-database.js';

/** Milliseconds since the epoch; injectable so tests control expiry and timestamps. */
export type Clock = () => number;

/** What every store shares: the connection and the clock. */
export interface RegistryContext {
  readonly rdb: RegistryDatabase;
  readonly clock: Clock;
}
