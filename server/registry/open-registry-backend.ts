import type { RegistryBackend } from './registry-backend.js';
import { SqliteBackend } from './sqlite-backend.js';

/** True for a PostgreSQL URL (`postgres://` or `postgresql://`), the registry of a cluster of hubs. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** Opens the backend `location` names: a PostgreSQL URL, else a SQLite file path. */
export async function openRegistryBackend(location: string, options: { readonly: boolean }): Promise<RegistryBackend> {
  if (!isPostgresUrl(location)) return SqliteBackend.open(location, options);
  // Loaded only for PostgreSQL: `pg` costs every command of a hub alone about 0.1 s of CPU at start.
  const { PostgresBackend } = await import('./postgres-backend.js');
  return PostgresBackend.open(location, options);
}
