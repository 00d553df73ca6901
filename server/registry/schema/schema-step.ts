/**
 * One step of the registry schema, in both SQL dialects. Both texts create the same tables and
 * columns with the same nullability; PostgreSQL's differ only where the engine does (integers that
 * hold milliseconds, addresses or ids are BIGINT, ids are identity columns, triggers call plpgsql
 * functions). A shipped step never changes, byte for byte: a hub upgraded in place replays only
 * the steps its registry lacks.
 */
export interface SchemaStep {
  /** What the step adds, in kebab-case, for messages and docs. */
  readonly name: string;
  /** The step for SQLite, run by `sqlite-migrate.ts`. */
  readonly sqlite: string;
  /** The same step for PostgreSQL, run by `postgres-migrate.ts`. */
  readonly postgres: string;
}
