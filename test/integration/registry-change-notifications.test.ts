import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../server/registry/registry.js';
import { waitUntil } from '../helpers/wait-until.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';

const pgReason = postgresUnavailableReason();
if (pgReason) console.warn(`skipping PostgreSQL change notifications: ${pgReason}`);

/** Polling interval given to the watchers (SQLite polls; PostgreSQL is told). */
const POLL_MS = 200;
/** How late a change may be noticed: the issue's bound for hubs. */
const NOTICE_MS = 1_000;
/** How long a wait for a notice lasts before the test fails: far beyond the bound, which the latency cases assert on their own. */
const NOTICE_WAIT_MS = 10_000;

/** Two registry handles on one store (two hubs, or a hub and the admin CLI) and how to make more. */
interface Pair {
  watcher: Registry;
  writer: Registry;
}

function watchCount(registry: Registry): { count: () => number; errors: Error[]; stop: () => Promise<void> } {
  let changes = 0;
  const errors: Error[] = [];
  const watch = registry.watchChanges(() => {
    changes += 1;
  }, (err) => errors.push(err), POLL_MS);
  return { count: () => changes, errors, stop: () => watch.stop() };
}

async function noticed(count: () => number, before: number): Promise<number> {
  const start = Date.now();
  await waitUntil(() => count() > before, NOTICE_WAIT_MS, 'the change to be noticed');
  return Date.now() - start;
}

const BACKENDS: { name: string; skip: string | null; open: () => Promise<Pair>; done: () => void }[] = [];
let dir: string;
BACKENDS.push({
  name: 'SQLite (data_version poll)',
  skip: null,
  open: async () => {
    const file = join(dir, 'registry.sqlite');
    return { watcher: await Registry.open(file), writer: await Registry.open(file) };
  },
  done: () => undefined,
});
let server: PostgresServer | undefined;
BACKENDS.push({
  name: 'PostgreSQL (LISTEN/NOTIFY)',
  skip: pgReason,
  open: async () => {
    server = await startPostgres();
    const url = await server.createDatabase('notify');
    return { watcher: await Registry.open(url), writer: await Registry.open(url) };
  },
  done: () => server?.close(),
});

describe.each(BACKENDS)('registry change notifications on $name', ({ skip, open, done }) => {
  let pair: Pair;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tunnel-notify-'));
    if (skip !== null) return;
    pair = await open();
    await pair.writer.settings.setEndpoint('198.51.100.1');
    await pair.writer.pools.add('10.1.12.0/24');
    await pair.writer.peers.add({ name: 'alice' });
  });
  afterAll(async () => {
    if (pair) await Promise.all([pair.watcher.close(), pair.writer.close()]);
    done();
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(skip !== null)(`tell the other handle within ${NOTICE_MS} ms of a commit, never the writer itself${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    const other = watchCount(pair.watcher);
    const self = watchCount(pair.writer);
    try {
      // Both watchers are listening (PostgreSQL's LISTEN is set up in the background; no event says when).
      await new Promise((resolve) => setTimeout(resolve, 3 * POLL_MS));
      let before = other.count();
      await pair.writer.peers.add({ name: 'bob' });
      const latency = await noticed(other.count, before);
      console.info(`peer add noticed by the other handle after ${latency} ms`);
      expect(latency).toBeLessThanOrEqual(NOTICE_MS + POLL_MS);

      before = other.count();
      await pair.writer.endpoints.record('bob', { address: '203.0.113.7', source: 'observed' });
      await noticed(other.count, before);

      // A hub link moving to another encapsulation: the other hub must re-lay its end at once.
      await pair.writer.hubs.join({ name: 'hub', endpoint: '198.51.100.1', hostKeyFingerprint: 'SHA256:a' });
      await pair.writer.hubs.join({ name: 'hub2', endpoint: '198.51.100.2', hostKeyFingerprint: 'SHA256:b' });
      await pair.writer.hubLinks.ensure('hub', 'hub2');
      // The notices of those three writes (one or several) have all arrived before counting anew.
      await new Promise((resolve) => setTimeout(resolve, 3 * POLL_MS));
      before = other.count();
      expect(await pair.writer.hubLinks.switchEncap('hub', 'hub2', 'gre', 'fou', 'gre-unanswered')).toBe(true);
      console.info(`hub link encapsulation switch noticed by the other handle after ${await noticed(other.count, before)} ms`);
      // Time for a notice the writer must not get.
      await new Promise((resolve) => setTimeout(resolve, 3 * POLL_MS));
      expect(self.count()).toBe(0);
      expect(other.errors).toEqual([]);
    } finally {
      await Promise.all([other.stop(), self.stop()]);
    }
  });
});

describe.skipIf(pgReason !== null)('PostgreSQL change notifications across a server restart', () => {
  it('stay quiet on a seen-again endpoint; reconnect after a restart and report a change, since notifications may have been lost', async () => {
    const pgServer = await startPostgres();
    try {
      const url = await pgServer.createDatabase('restart');
      const watcher = await Registry.open(url);
      const watch = watchCount(watcher);
      try {
        const writer = await Registry.open(url);
        await writer.settings.setEndpoint('198.51.100.1');
        await noticed(watch.count, 0);
        await writer.close();
        // A seen-again endpoint is quiet: only a new address is news for other hubs.
        const quiet = await Registry.open(url);
        await quiet.pools.add('10.1.12.0/24');
        await quiet.peers.add({ name: 'carol' });
        await quiet.endpoints.record('carol', { address: '203.0.113.9', source: 'observed' });
        await new Promise((resolve) => setTimeout(resolve, 500)); // those writes' notices arrive
        const beforeRefresh = watch.count();
        await quiet.endpoints.record('carol', { address: '203.0.113.9', source: 'observed' });
        await new Promise((resolve) => setTimeout(resolve, 500)); // time for a notice that must not come
        expect(watch.count()).toBe(beforeRefresh);
        await quiet.close();

        pgServer.stop('fast');
        await waitUntil(() => watch.errors.length > 0, 5_000, 'the watcher to notice the server went away');
        expect(watch.errors[0]).toMatchObject({ code: 'ERR_REGISTRY_UNAVAILABLE' });
        const before = watch.count();
        pgServer.start();
        // The watcher retries with backoff (at most 5 s apart) while the server is away.
        await waitUntil(() => watch.count() > before, 10_000, 'a change reported after reconnecting');
      } finally {
        await watch.stop();
        await watcher.close();
      }
    } finally {
      pgServer.close();
    }
  });
});
