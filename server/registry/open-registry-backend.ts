import { PostgresBackend } from './postgres-backend.js';
import type { RegistryBackend } from './registry-backend.js';
import { SqliteBackend } from './sqlite-backend.js';

/** True for a PostgreSQL URL (`postgres://` or `postgresql://`), the registry of a cluster of hubs. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** Opens the backend `location` names: a PostgreSQL URL, else a SQLite file path. */
export async function openRegistryBackend(location: string, options: { readonly: boolean }): Promise<RegistryBackend> {
  return isPostgresUrl(location) ? PostgresBackend.open(location, options) : SqliteBackend.open(location, options);
}
