import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubStatePaths } from '../../server/hub-state/hub-state-paths.js';
import { Registry } from '../../server/registry/registry.js';
import { parseIpv4Prefix, prefixContains } from '../../shared/net/ipv4-prefix.js';
import { runHubCli, tempStateDir } from '../helpers/hub-cli.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { testScript } from '../helpers/test-scripts.js';

const POOL = '10.1.16.0/20'; // 1,024 /30s, room for both processes

/** One of the two allocating processes (test/scripts/add-peers-on-signal.ts): `go()` is the shared start signal. */
interface Adder {
  ready: Promise<void>;
  go(): void;
  exit: Promise<{ code: number | null; stderr: string }>;
}

function startAdder(database: string, prefix: string, count: number): Adder {
  const child = spawn(process.execPath, [testScript('add-peers-on-signal'), database, prefix, String(count)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('ready')) resolve();
    });
    child.once('exit', () => reject(new Error(`child ${prefix} exited before it was ready: ${stderr}`)));
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return { ready, go: () => child.stdin.end('go\n'), exit };
}

const pgReason = postgresUnavailableReason();
if (pgReason) console.warn(`skipping concurrent allocation on PostgreSQL: ${pgReason}`);

/** Both processes' registry: a SQLite file made by `tunnel-hub init`, or a fresh PostgreSQL database. */
interface Backend {
  name: string;
  perProcess: number;
  skip: string | null;
  prepare(dir: string): Promise<string>;
}

let server: PostgresServer | undefined;
const BACKENDS: Backend[] = [
  {
    name: 'SQLite file',
    perProcess: 300,
    skip: null,
    prepare: async (dir) => {
      expect((await runHubCli(dir, ['init', '--endpoint', '198.51.100.1', '--pool', POOL])).code).toBe(0);
      return hubStatePaths(dir).database;
    },
  },
  {
    name: 'PostgreSQL',
    perProcess: 500,
    skip: pgReason,
    prepare: async () => {
      server = await startPostgres();
      const url = await server.createDatabase('allocate');
      const registry = await Registry.open(url);
      await registry.settings.setEndpoint('198.51.100.1');
      await registry.pools.add(POOL);
      await registry.close();
      return url;
    },
  },
];

describe.each(BACKENDS)('two processes adding peers at the same moment on $name', ({ perProcess, skip, prepare, name }) => {
  let state: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    state = await tempStateDir();
  });
  afterAll(async () => {
    server?.close();
    await state.cleanup();
  });

  it.skipIf(skip !== null)(`end with ${2 * perProcess} distinct, non-overlapping /30s inside the pool${skip ? ` (skipped: ${skip})` : ''}`, async () => {
    const database = await prepare(state.dir);
    const children = [startAdder(database, 'a', perProcess), startAdder(database, 'b', perProcess)];
    await Promise.all(children.map((c) => c.ready));
    for (const child of children) child.go();
    const started = Date.now();
    const exits = await Promise.all(children.map((c) => c.exit));
    const elapsedMs = Date.now() - started;
    for (const exit of exits) expect(exit, exit.stderr).toMatchObject({ code: 0 });

    const registry = await Registry.open(database, { readonly: true });
    try {
      const links = await registry.links.list();
      expect(await registry.peers.list()).toHaveLength(2 * perProcess);
      expect(links).toHaveLength(2 * perProcess);
      const pool = parseIpv4Prefix(POOL);
      const networks = links.map((l) => parseIpv4Prefix(l.prefix));
      for (const n of networks) {
        expect(n.length).toBe(30);
        expect(prefixContains(pool, n)).toBe(true);
      }
      // Aligned /30s overlap only when equal, so distinct networks means no overlap at all.
      expect(new Set(networks.map((n) => n.network)).size).toBe(2 * perProcess);
      // Lowest-first with no gaps: exactly the first 2 × perProcess /30s of the pool are in use.
      expect(Math.max(...networks.map((n) => n.network)) - pool.network).toBe((2 * perProcess - 1) * 4);
      const owners = links.map((l) => l.ends[1].split('-')[0]);
      const switches = owners.filter((owner, i) => i > 0 && owner !== owners[i - 1]).length;
      console.info(`${name}: ${2 * perProcess} allocations in ${elapsedMs} ms; the order switched between the two processes ${switches} times`);
      // The two really ran at once: otherwise this would prove nothing about concurrent allocation.
      expect(switches).toBeGreaterThan(0);
    } finally {
      await registry.close();
    }
  });
});
