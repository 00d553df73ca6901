import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubStatePaths } from '../../server/hub-state/hub-state-paths.js';
import { Registry } from '../../server/registry/registry.js';
import { parseIpv4Prefix, prefixContains } from '../../shared/net/ipv4-prefix.js';
import { runHubCli, tempStateDir } from '../helpers/hub-cli.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';

const POOL = '10.1.16.0/20'; // 1,024 /30s, room for both processes

// Each child opens the registry itself, waits for the shared start signal, then adds its peers
// one transaction at a time, as two `tunnel-hub peer add` loops (or two hubs) would.
const CHILD = `
  const [registryUrl, database, go, prefix, count] = process.argv.slice(1);
  const { existsSync } = await import('node:fs');
  const { Registry } = await import(registryUrl);
  const registry = await Registry.open(database);
  process.stdout.write('ready\\n');
  const deadline = Date.now() + 60000;
  while (!existsSync(go)) {
    if (Date.now() > deadline) throw new Error('no start signal');
    await new Promise((r) => setTimeout(r, 5));
  }
  for (let i = 0; i < Number(count); i++) await registry.peers.add({ name: prefix + '-' + i });
  await registry.close();
  process.stdout.write('done\\n');
`;

function startChild(database: string, go: string, prefix: string, count: number): { ready: Promise<void>; exit: Promise<{ code: number | null; stderr: string }> } {
  const registryUrl = pathToFileURL(join(process.cwd(), 'dist/server/registry/registry.js')).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, registryUrl, database, go, prefix, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  return { ready, exit };
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
    prepare: async (dir) => {
      mkdirSync(dir, { recursive: true }); // only the start signal lives there
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
    const go = join(state.dir, 'go');
    const children = [startChild(database, go, 'a', perProcess), startChild(database, go, 'b', perProcess)];
    await Promise.all(children.map((c) => c.ready));
    writeFileSync(go, '');
    const started = Date.now();
    const exits = await Promise.all(children.map((c) => c.exit));
    const elapsedMs = Date.now() - started;
    for (const exit of exits) expect(exit, exit.stderr).toMatchObject({ code: 0 });
    expect(existsSync(go)).toBe(true);

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
