import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../../server/registry/sqlite-backend.js';

/** Writes on the registry's connection share one commit per event-loop turn; another process sees them only then. */
describe('SqliteBackend: one commit per turn', () => {
  let dir: string;
  let backend: SqliteBackend;
  let other: Database.Database;
  const seen = (): number[] => (other.prepare('SELECT n FROM t ORDER BY n').all() as { n: number }[]).map((row) => row.n);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tunnel-turn-'));
    backend = SqliteBackend.open(join(dir, 'registry.db'));
    await backend.run('CREATE TABLE t (n INTEGER PRIMARY KEY)');
    other = new Database(join(dir, 'registry.db'), { readonly: true });
  });
  afterEach(async () => {
    other.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the writes of a turn in one transaction at its end, and resolves them once committed', async () => {
    const writes = [1, 2, 3].map((n) => backend.run('INSERT INTO t (n) VALUES (?)', n));
    expect(seen()).toEqual([]);
    expect(await Promise.all(writes)).toEqual([{ changes: 1 }, { changes: 1 }, { changes: 1 }]);
    expect(seen()).toEqual([1, 2, 3]);
  });

  it('a read runs the writes queued before it first', async () => {
    const write = backend.run('INSERT INTO t (n) VALUES (?)', 4);
    expect(await backend.get<{ count: number }>('SELECT count(*) AS count FROM t')).toEqual({ count: 1 });
    await write;
    expect(seen()).toEqual([4]);
  });

  it('a second connection in this process that writes in the same turn does not wait on this one', async () => {
    const write = backend.run('INSERT INTO t (n) VALUES (?)', 5);
    const second = SqliteBackend.open(join(dir, 'registry.db'));
    try {
      await second.run('INSERT INTO t (n) VALUES (?)', 6);
    } finally {
      await second.close();
    }
    await write;
    expect(seen()).toEqual([5, 6]);
  });

  it('refuses only the statement that failed; the rest of the turn commits', async () => {
    const first = backend.run('INSERT INTO t (n) VALUES (?)', 1);
    const clash = backend.run('INSERT INTO t (n) VALUES (?)', 1);
    const second = backend.run('INSERT INTO t (n) VALUES (?)', 2);
    await expect(clash).rejects.toThrow(/UNIQUE/);
    await Promise.all([first, second]);
    expect(seen()).toEqual([1, 2]);
  });

  it('a transaction takes the writes queued before it into its own commit; its failure undoes only its own work', async () => {
    const before = backend.run('INSERT INTO t (n) VALUES (?)', 1);
    const failed = backend.transaction(async (tx) => {
      await tx.run('INSERT INTO t (n) VALUES (?)', 10);
      throw new Error('changed its mind');
    });
    const kept = backend.transaction(async (tx) => {
      await tx.run('INSERT INTO t (n) VALUES (?)', 20);
      return (await tx.all('SELECT n FROM t')).length;
    });
    const after = backend.run('INSERT INTO t (n) VALUES (?)', 2);
    await expect(failed).rejects.toThrow('changed its mind');
    // The kept transaction ran after the failed one was undone and after `before`, before `after`.
    expect(await kept).toBe(2);
    await Promise.all([before, after]);
    expect(seen()).toEqual([1, 2, 20]);
  });

  it('close commits a turn still open', async () => {
    const write = backend.run('INSERT INTO t (n) VALUES (?)', 7);
    await backend.close();
    await write;
    expect(seen()).toEqual([7]);
    backend = SqliteBackend.open(join(dir, 'registry.db'));
  });
});
