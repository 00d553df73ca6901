/** A column as SQLite's `pragma_table_info` describes it (`notnull`, `pk` as 0/1 and key position). */
export interface SqliteColumn {
  readonly table: string;
  readonly name: string;
  readonly type: string;
  readonly notnull: number;
  readonly pk: number;
}

/** A column as PostgreSQL's `information_schema.columns` describes it. */
export interface PostgresColumn {
  readonly table: string;
  readonly name: string;
  readonly dataType: string;
  readonly isNullable: 'YES' | 'NO';
  readonly isIdentity: 'YES' | 'NO';
}

/** The type each SQLite declared type (every one the schema steps use) may have on PostgreSQL. */
export const SQLITE_TO_POSTGRES_TYPES: Readonly<Record<string, readonly string[]>> = {
  INTEGER: ['integer', 'bigint'],
  TEXT: ['text'],
};

/**
 * Columns named as milliseconds (`at`, `*_at`), IPv4 networks (`network`, `*_network`), GRE keys
 * or ids (`*_id`): their values pass int4's range (a time in ms by far), so PostgreSQL needs bigint.
 */
const BIGINT_NAME = /^(at|.+_at|network|.+_network|gre_key|next_gre_key|.+_id)$/;

/**
 * What differs between the two migrated schemas, one line per difference (empty: they match):
 * tables, column names, nullability and types through {@link SQLITE_TO_POSTGRES_TYPES}. A primary
 * key column counts as NOT NULL on SQLite: PostgreSQL makes it so, SQLite's `INTEGER PRIMARY KEY`
 * is the rowid, and the stores never write NULL into the TEXT ones.
 */
export function schemaDifferences(sqlite: readonly SqliteColumn[], postgres: readonly PostgresColumn[]): string[] {
  const differences: string[] = [];
  const sqliteTables = new Set(sqlite.map((c) => c.table));
  const postgresTables = new Set(postgres.map((c) => c.table));
  for (const table of sqliteTables) if (!postgresTables.has(table)) differences.push(`table ${table}: only on SQLite`);
  for (const table of postgresTables) if (!sqliteTables.has(table)) differences.push(`table ${table}: only on PostgreSQL`);
  const onPostgres = new Map(postgres.map((c) => [`${c.table}.${c.name}`, c]));
  for (const column of sqlite) {
    const key = `${column.table}.${column.name}`;
    const twin = onPostgres.get(key);
    onPostgres.delete(key);
    if (!postgresTables.has(column.table)) continue;
    if (!twin) {
      differences.push(`${key}: only on SQLite`);
      continue;
    }
    const sqliteNullable = column.notnull === 0 && column.pk === 0;
    const postgresNullable = twin.isNullable === 'YES';
    if (sqliteNullable !== postgresNullable) {
      differences.push(`${key}: ${sqliteNullable ? 'nullable' : 'NOT NULL'} on SQLite, ${postgresNullable ? 'nullable' : 'NOT NULL'} on PostgreSQL`);
    }
    const allowed = SQLITE_TO_POSTGRES_TYPES[column.type];
    if (!allowed) {
      differences.push(`${key}: SQLite type ${column.type || '(none)'} has no PostgreSQL mapping`);
    } else if (!allowed.includes(twin.dataType)) {
      differences.push(`${key}: ${column.type} on SQLite, ${twin.dataType} on PostgreSQL (expected ${allowed.join(' or ')})`);
    } else if ((BIGINT_NAME.test(column.name) || twin.isIdentity === 'YES') && twin.dataType !== 'bigint') {
      differences.push(`${key}: ${twin.dataType} on PostgreSQL, but milliseconds, networks, GRE keys and ids need bigint`);
    }
  }
  for (const [key, column] of onPostgres) {
    if (sqliteTables.has(column.table)) differences.push(`${key}: only on PostgreSQL`);
  }
  return differences;
}
