import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLIENT = resolve(import.meta.dirname, '../../dist/client/cli.js');
const HUB = resolve(import.meta.dirname, '../../dist/server/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'tc-queues-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each command that opens TUNs checks TUNNEL_QUEUES first: a bad value stops it with one coded
// line before any state folder, device or socket exists.
const COMMANDS: [string, string, string[]][] = [
  ['tunnel-client up', CLIENT, ['up', '--local', '192.0.2.1', '--remote', '192.0.2.2', '--encap', 'gre', '--address', '10.1.12.38/30',
    '--peer-address', '10.1.12.37', '--state', join(dir, 'up')]],
  ['tunnel-client run', CLIENT, ['run', '--state', join(dir, 'run')]],
  ['tunnel-hub serve', HUB, ['--state', join(dir, 'hub'), 'serve', '--datapath', 'engine']],
];

describe('a bad TUNNEL_QUEUES is refused at start with ERR_INVALID_CONFIG', () => {
  describe.each(COMMANDS)('%s', (_label, cli, args) => {
    it.each(['0', '9', 'two', '1.5'])('TUNNEL_QUEUES=%s', (value) => {
      const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, TUNNEL_QUEUES: value } });
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(new RegExp(`^tunnel-(client|hub): ERR_INVALID_CONFIG: TUNNEL_QUEUES "${value.replace('.', '\\.')}" must be `));
      expect(existsSync(args[args.indexOf('--state') + 1]!)).toBe(false);
    });
  });
});
