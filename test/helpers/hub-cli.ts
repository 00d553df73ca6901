import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from '../../server/registry/registry.js';
import type { RegistrySnapshot } from '../../server/registry/registry-snapshot.js';
import { hubStatePaths } from '../../server/hub-state/hub-state-paths.js';

/** The built `tunnel-hub` (npm test builds before running vitest). */
export const HUB_CLI = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url));

/** What one run of the CLI did. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/server/cli.js --state DIR ...args` and collects its exit code and output (a status of 10,000 peers too). */
export function runHubCli(stateDir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  if (!existsSync(HUB_CLI)) throw new Error(`${HUB_CLI} is missing: run \`npm run build\` (npm test does it first)`);
  return new Promise((done) => {
    execFile(process.execPath, [HUB_CLI, '--state', stateDir, ...args], { env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** A fresh temporary folder for a hub's state (not created yet: `init` must create it). */
export async function tempStateDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const parent = await mkdtemp(join(tmpdir(), 'tunnel-hub-test-'));
  return { dir: join(parent, 'state'), cleanup: () => rm(parent, { recursive: true, force: true }) };
}

/** Every row of the hub's registry, read without changing anything. */
export async function registrySnapshot(stateDir: string): Promise<RegistrySnapshot> {
  const registry = await Registry.open(hubStatePaths(stateDir).database, { readonly: true });
  try {
    return await registry.exportTables();
  } finally {
    await registry.close();
  }
}
