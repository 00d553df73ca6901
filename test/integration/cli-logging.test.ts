import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HUB_CLI, runHubCli } from '../helpers/hub-cli.js';
import { waitUntil } from '../helpers/wait-until.js';

const scriptMissing = spawnSync('script', ['--version']).error ? 'script(1) is missing (Debian package bsdutils)' : null;
if (scriptMissing) console.warn(`SKIPPING the terminal log test: ${scriptMissing}`);

/** How long a hub that logs nothing at its level is left running, so a line it should not print would show. */
const QUIET_MS = 200;

/**
 * Runs `tunnel-hub serve` (no datapath, ports 0), under `script` for a terminal, until it listens
 * and its output matches `printed` (null: until QUIET_MS more have passed); stops it and resolves
 * with what it wrote.
 */
async function serveOnce(stateDir: string, extra: string[], viaTerminal: boolean, printed: RegExp | null): Promise<string> {
  const args = [HUB_CLI, '--state', stateDir, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0', '--datapath', 'none', '--no-admin', ...extra];
  const child = viaTerminal
    ? spawn('script', ['-qfec', [process.execPath, ...args].map((arg) => `'${arg}'`).join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await waitUntil(() => existsSync(join(stateDir, 'serve.json')), 20_000, () => `serve.json: ${output}`);
  if (printed === null) await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  else await waitUntil(() => printed.test(output), 20_000, () => `${String(printed)} in: ${output}`);
  // The hub itself (under `script`, not our child): its pid is in serve.json.
  const { pid } = JSON.parse(readFileSync(join(stateDir, 'serve.json'), 'utf8')) as { pid: number };
  process.kill(pid, 'SIGTERM');
  await exited;
  return output;
}

describe('logs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tunnel-log-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are one JSON object per line when not written to a terminal', async () => {
    const output = await serveOnce(join(dir, 'hub'), [], false, /hub listening/);
    const lines = output.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const records = lines.map((line) => JSON.parse(line) as { level: number; msg: string; name: string });
    expect(records.map((record) => record.msg)).toContain('hub listening');
    expect(records.every((record) => record.name === 'tunnel-hub')).toBe(true);
  });

  it('--log-level warn keeps the info lines out', async () => {
    const output = await serveOnce(join(dir, 'hub'), ['--log-level', 'warn'], false, null);
    expect(output).not.toContain('hub listening');
    expect(output).not.toContain('"level":30');
  });

  it.skipIf(scriptMissing !== null)('are human-readable on a terminal', async () => {
    const output = await serveOnce(join(dir, 'hub'), [], true, /hub listening/);
    expect(output).toMatch(/INFO.*hub listening/);
    expect(output).not.toMatch(/^\{"level"/m);
  });

  it('refuses an unknown --log-level before anything is created', async () => {
    const result = await runHubCli(join(dir, 'never'), ['serve', '--log-level', 'chatty', '--no-admin']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('tunnel-hub: ERR_INVALID_ARGUMENT: --log-level "chatty" must be one of trace, debug, info, warn, error, fatal, silent\n');
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});
