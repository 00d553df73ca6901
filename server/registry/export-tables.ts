import type { RegistryDatabase } from './registry-database.js';

/** Every row of every registry table, for comparing the registry before and after a refusal. */
export interface RegistrySnapshot {
  readonly schemaVersion: number;
  readonly tables: Record<string, unknown[]>;
}

/** Reads the whole registry (tables in name order, rows in rowid order). */
export function exportTables(rdb: RegistryDatabase): RegistrySnapshot {
  const names = rdb.statement("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
  const tables: Record<string, unknown[]> = {};
  for (const { name } of names) {
    // Names come from sqlite_master itself, so quoting them is safe.
    tables[name] = rdb.db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}" ORDER BY rowid`).all();
  }
  return { schemaVersion: rdb.db.pragma('user_version', { simple: true }) as number, tables };
}
