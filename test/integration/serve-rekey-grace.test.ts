import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_CLI, registrySnapshot, runHubCli, tempStateDir } from '../helpers/hub-cli.js';
import { waitUntil } from '../helpers/wait-until.js';

let state: { dir: string; cleanup: () => Promise<void> };

/** `serve` with no datapath, ports 0 and no admin listener, plus `extra`. */
const SERVE = ['serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0', '--datapath', 'none', '--no-admin'];

beforeAll(async () => {
  state = await tempStateDir();
  expect((await runHubCli(state.dir, ['init', '--endpoint', '198.51.100.1', '--pool', '10.1.12.0/24'])).code).toBe(0);
  expect((await runHubCli(state.dir, ['peer', 'add', 'c1'])).code).toBe(0);
});

afterAll(async () => {
  await state.cleanup();
});

describe('serve --rekey-grace', () => {
  it.each([
    [['--rekey-grace', '0s'], /--rekey-grace "0s" is not a duration/],
    [['--rekey-grace', 'soon'], /--rekey-grace "soon" is not a duration/],
    [['--rekey-grace', '500ms'], /--rekey-grace "500ms" is not a duration/],
    [['--rekey-grace', '1h'], /--rekey-grace "1h" must be at least 1s and less than --rekey-interval \(1h\)/],
    [['--rekey-interval', '30s', '--rekey-grace', '30s'], /--rekey-grace "30s" must be at least 1s and less than --rekey-interval \(30s\)/],
    [['--rekey-interval', '30s', '--rekey-grace', '2m'], /--rekey-grace "2m" must be at least 1s and less than --rekey-interval \(30s\)/],
  ])('%j is refused with one coded line, and the hub neither starts nor changes its state', async (flags, message) => {
    const before = await registrySnapshot(state.dir);
    const files = readdirSync(state.dir).sort();
    const result = await runHubCli(state.dir, [...SERVE, ...flags]);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^tunnel-hub: ERR_INVALID_ARGUMENT: [^\n]+\n$/);
    expect(result.stderr).toMatch(message);
    expect(existsSync(join(state.dir, 'serve.json'))).toBe(false);
    expect(readdirSync(state.dir).sort()).toEqual(files);
    expect(await registrySnapshot(state.dir)).toEqual(before);
  });

  it.each([
    [[], '10s', '3600s'],
    [['--rekey-interval', '30s', '--rekey-grace', '29s'], '29s', '30s'],
    [['--rekey-grace', '1s'], '1s', '3600s'],
    // Not given, under a rekey interval of less than 20 s: half the interval.
    [['--rekey-interval', '10s'], '5s', '10s'],
  ])('%j: the hub starts and says it runs a grace of %s beside a rekey interval of %s', async (flags, grace, interval) => {
    const child = spawn(process.execPath, [HUB_CLI, '--state', state.dir, ...SERVE, '--log-level', 'info', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const listening = await waitUntil(() => output.split('\n').find((line) => line.includes('hub listening')), 20_000, () => `serve to listen: ${output}`);
      // SIGTERM right after this line: serve listens for it from before its start.
      expect(JSON.parse(listening)).toMatchObject({ rekeyGrace: grace, rekeyInterval: interval });
    } finally {
      child.kill('SIGTERM');
      expect(await exited, output).toBe(0);
    }
  });
});
