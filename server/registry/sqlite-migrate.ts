import type Database from 'better-sqlite3';
import { TunnelError } from '../../shared/errors.js';
import type { SchemaStep } from './schema/schema-step.js';

/**
 * Brings the schema up to `steps` in one IMMEDIATE transaction: applies the SQLite text of the
 * steps `PRAGMA user_version` has not counted yet. A schema newer than `steps` is refused
 * (ERR_STATE: upgrade tunnel-hub) and left as it is.
 */
export function migrateSqlite(db: Database.Database, steps: readonly SchemaStep[]): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > steps.length) {
      throw new TunnelError('ERR_STATE', `the registry has schema version ${version}, newer than this program knows (${steps.length}); upgrade tunnel-hub`);
    }
    for (let step = version; step < steps.length; step++) {
      db.exec(steps[step]?.sqlite ?? '');
      db.pragma(`user_version = ${step + 1}`);
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
