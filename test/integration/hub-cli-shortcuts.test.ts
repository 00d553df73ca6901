import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubStatePaths } from '../../server/hub-state/hub-state-paths.js';
import { Registry } from '../../server/registry/registry.js';
import { DEFAULT_SHORTCUT_OPTIONS } from '../../server/shortcuts/shortcut-options.js';
import { HUB_CLI, registrySnapshot, runHubCli, tempStateDir, type CliResult } from '../helpers/hub-cli.js';
import { waitUntil } from '../helpers/wait-until.js';

let state: { dir: string; cleanup: () => Promise<void> };
const cli = (...args: string[]) => runHubCli(state.dir, args);

async function ok(...args: string[]): Promise<string> {
  const result = await cli(...args);
  expect(result, `tunnel-hub ${args.join(' ')}`).toMatchObject({ code: 0, stderr: '' });
  return result.stdout;
}

/** Expects one coded error line, no stack trace, and every table of the registry as it was. */
async function refused(code: string, ...args: string[]): Promise<CliResult> {
  const before = await registrySnapshot(state.dir);
  const result = await cli(...args);
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(new RegExp(`^tunnel-hub: ${code}: [^\\n]+\\n$`));
  expect(await registrySnapshot(state.dir)).toEqual(before);
  return result;
}

/** Runs `serve` (no datapath, ports 0, no admin listener) until it wrote serve.json; returns it and stops the hub. */
async function serveRuntime(extra: string[]): Promise<Record<string, unknown>> {
  const file = join(state.dir, 'serve.json');
  const child = spawn(process.execPath, [HUB_CLI, '--state', state.dir, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0',
    '--datapath', 'none', '--no-admin', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitUntil(() => existsSync(file), 20_000, () => `serve to write serve.json (stderr: ${stderr.trim()})`);
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } finally {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
}

beforeAll(async () => {
  state = await tempStateDir();
  await ok('init', '--endpoint', '198.51.100.1', '--pool', '10.1.12.0/24');
  for (const name of ['c1', 'c2', 'c3']) await ok('peer', 'add', name);
});

afterAll(async () => {
  await state.cleanup();
});

describe('link list with shortcuts', () => {
  it('shows kind, why, age and rate beside operator links, in text and as JSON', async () => {
    await ok('link', 'add', 'c1', 'c2');
    // The hub makes shortcuts; here the registry does, as the hub will.
    const registry = await Registry.open(hubStatePaths(state.dir).database);
    const made = await registry.links.addShortcut('c2', 'c3', 'rate 3.2 Mbit/s').finally(() => registry.close());
    const links = JSON.parse(await ok('link', 'list', '--json')) as Record<string, unknown>[];
    expect(links).toEqual([
      expect.objectContaining({ ends: ['c1', 'c2'], hubLink: false, kind: 'operator', why: null, lastActiveAt: null, rate: null, age: expect.any(Number) }),
      expect.objectContaining({ ends: ['c2', 'c3'], hubLink: false, kind: 'shortcut', why: 'rate 3.2 Mbit/s', createdAt: made.createdAt, lastActiveAt: made.createdAt, rate: null, prefix: made.prefix }),
    ]);
    expect(links[1]?.age).toBeGreaterThanOrEqual(0);
    expect(links[1]?.age).toBeLessThan(60);
    const text = await ok('link', 'list');
    expect(text).toMatch(/^A\s+B\s+PREFIX\s+A ADDRESS\s+B ADDRESS\s+KEY\s+KIND\s+AGE\s+RATE\s+WHY\n/);
    expect(text).toMatch(/\nc1\s+c2\s+\S+\s+\S+\s+\S+\s+\d+\s+operator\s+\d+s\s+-\s+-\n/);
    expect(text).toMatch(/\nc2\s+c3\s+\S+\s+\S+\s+\S+\s+\d+\s+shortcut\s+\d+s\s+-\s+rate 3\.2 Mbit\/s\n$/);
    expect(await ok('peer', 'show', 'c3')).toMatch(/c2 <-> c3 .* shortcut \(rate 3\.2 Mbit\/s\)/);
  });

  it('`link remove` removes a shortcut too, and its /30 goes back to the pool', async () => {
    const prefix = (JSON.parse(await ok('link', 'list', '--json')) as { kind: string; prefix: string }[]).find((l) => l.kind === 'shortcut')?.prefix;
    expect(await ok('link', 'remove', 'c3', 'c2')).toBe(`removed link c2 <-> c3; released ${prefix}\n`);
    expect(await ok('link', 'add', 'c3', 'c2')).toContain(`linked c3 <-> c2: ${prefix} `);
    await ok('link', 'remove', 'c3', 'c2');
  });
});

describe('peer set --shortcuts', () => {
  it('turns a peer\'s shortcuts off and on, says when nothing changed, and shows it', async () => {
    expect(JSON.parse(await ok('peer', 'show', 'c1', '--json'))).toMatchObject({ shortcuts: true });
    expect(await ok('peer', 'set', 'c1', '--shortcuts', 'off')).toBe('peer c1: shortcuts off\n');
    expect(await ok('peer', 'set', 'c1', '--shortcuts', 'off')).toBe('peer c1: shortcuts off (unchanged)\n');
    expect(JSON.parse(await ok('peer', 'show', 'c1', '--json'))).toMatchObject({ shortcuts: false });
    expect(await ok('peer', 'show', 'c1')).toMatch(/\n {2}shortcuts {6}off\n/);
    expect(await ok('peer', 'set', 'c1', '--shortcuts', 'on', '--source-check', 'off')).toBe('peer c1: source check off\npeer c1: shortcuts on\n');
    await ok('peer', 'set', 'c1', '--source-check', 'on');
  });

  it('refuses bad values, unknown peers and nothing to set, changing nothing (not even the other settings given)', async () => {
    await refused('ERR_INVALID_ARGUMENT', 'peer', 'set', 'c1', '--shortcuts', 'maybe');
    await refused('ERR_INVALID_ARGUMENT', 'peer', 'set', 'c1', '--source-check', 'off', '--shortcuts', 'ON');
    await refused('ERR_PEER_NOT_FOUND', 'peer', 'set', 'nobody', '--shortcuts', 'off');
    await refused('ERR_INVALID_ARGUMENT', 'peer', 'set', 'c1');
  });
});

describe('serve --shortcuts, --shortcut-threshold, --shortcut-idle, --shortcuts-max', () => {
  it('refuses bad values with one coded line before starting anything', async () => {
    const bad: string[][] = [
      ['--shortcuts', 'sometimes'], ['--shortcut-threshold', 'fast'], ['--shortcut-threshold', '10bit'], ['--shortcut-threshold', '200Gbit'],
      ['--shortcut-threshold', '1Mbit/s:2x'], ['--shortcut-threshold', '1Mbit/s:2h'], ['--shortcut-threshold', '1Mbit/s:2s:3s'],
      ['--shortcut-idle', '0s'], ['--shortcut-idle', '8d'], ['--shortcut-idle', 'soon'],
      ['--shortcuts-max', '0'], ['--shortcuts-max', '1001'], ['--shortcuts-max', 'many'],
    ];
    for (const flags of bad) {
      const result = await refused('ERR_INVALID_ARGUMENT', 'serve', '--datapath', 'none', '--no-admin', '--ws-port', '0', '--ssh-port', '0', ...flags);
      expect(result.stderr, flags.join(' ')).toContain(flags[0]!);
      expect(existsSync(join(state.dir, 'serve.json'))).toBe(false);
    }
  });

  it('hands the hub its options: the defaults, or what was given', async () => {
    expect((await serveRuntime([])).shortcuts).toEqual(DEFAULT_SHORTCUT_OPTIONS);
    expect((await serveRuntime(['--shortcuts', 'off', '--shortcut-threshold', '2.5Mbit/s:3s', '--shortcut-idle', '90s', '--shortcuts-max', '4'])).shortcuts)
      .toEqual({ mode: 'off', threshold: { bitsPerSecond: 2_500_000, sustainMs: 3_000 }, idleMs: 90_000, maxPerMember: 4 });
    expect((await serveRuntime(['--shortcut-threshold', '500kbit'])).shortcuts).toMatchObject({ mode: 'auto', threshold: { bitsPerSecond: 500_000, sustainMs: 2_000 } });
  });
});
