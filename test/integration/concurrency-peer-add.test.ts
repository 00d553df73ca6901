import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubStatePaths } from '../../server/hub-state/hub-state-paths.js';
import { Registry } from '../../server/registry/registry.js';
import { parseIpv4Prefix, prefixContains } from '../../shared/net/ipv4-prefix.js';
import { runHubCli, tempStateDir } from '../helpers/hub-cli.js';

const PEERS_PER_PROCESS = 300;
const POOL = '10.1.16.0/20'; // 1,024 /30s, room for both processes

// Each child opens the registry itself, waits for the shared start signal, then adds its peers
// one IMMEDIATE transaction at a time, as two `tunnel-hub peer add` loops would.
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

function startChild(database: string, go: string, prefix: string): { ready: Promise<void>; exit: Promise<{ code: number | null; stderr: string }> } {
  const registryUrl = pathToFileURL(join(process.cwd(), 'dist/server/registry/registry.js')).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, registryUrl, database, go, prefix, String(PEERS_PER_PROCESS)], { stdio: ['ignore', 'pipe', 'pipe'] });
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

describe('two processes adding peers at the same moment', () => {
  let state: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    state = await tempStateDir();
  });
  afterAll(async () => {
    await state.cleanup();
  });

  it(`end with ${2 * PEERS_PER_PROCESS} distinct, non-overlapping /30s inside the pool`, async () => {
    expect((await runHubCli(state.dir, ['init', '--endpoint', '198.51.100.1', '--pool', POOL])).code).toBe(0);
    const database = hubStatePaths(state.dir).database;
    const go = join(state.dir, 'go');
    const children = [startChild(database, go, 'a'), startChild(database, go, 'b')];
    await Promise.all(children.map((c) => c.ready));
    writeFileSync(go, '');
    const exits = await Promise.all(children.map((c) => c.exit));
    for (const exit of exits) expect(exit, exit.stderr).toMatchObject({ code: 0 });
    expect(existsSync(go)).toBe(true);

    const registry = await Registry.open(database, { readonly: true });
    try {
      const links = await registry.links.list();
      expect(await registry.peers.list()).toHaveLength(2 * PEERS_PER_PROCESS);
      expect(links).toHaveLength(2 * PEERS_PER_PROCESS);
      const pool = parseIpv4Prefix(POOL);
      const networks = links.map((l) => parseIpv4Prefix(l.prefix));
      for (const n of networks) {
        expect(n.length).toBe(30);
        expect(prefixContains(pool, n)).toBe(true);
      }
      // Aligned /30s overlap only when equal, so distinct networks means no overlap at all.
      expect(new Set(networks.map((n) => n.network)).size).toBe(2 * PEERS_PER_PROCESS);
      // Lowest-first with no gaps: exactly the first 600 /30s of the pool are in use.
      expect(Math.max(...networks.map((n) => n.network)) - pool.network).toBe((2 * PEERS_PER_PROCESS - 1) * 4);
      const owners = links.map((l) => l.ends[1].split('-')[0]);
      const switches = owners.filter((owner, i) => i > 0 && owner !== owners[i - 1]).length;
      console.info(`allocation order switched between the two processes ${switches} times`);
    } finally {
      await registry.close();
    }
  });
});
