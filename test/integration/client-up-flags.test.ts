import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli.js');
const state = mkdtempSync(join(tmpdir(), 'tc-flags-'));
const GOOD = ['--local', '192.0.2.1', '--remote', '192.0.2.2', '--encap', 'gre', '--address', '10.1.12.38/30', '--peer-address', '10.1.12.37', '--state', state];

function up(overrides: Record<string, string | null>): { status: number | null; stderr: string; stdout: string } {
  const args = [...GOOD];
  for (const [flag, value] of Object.entries(overrides)) {
    const at = args.indexOf(flag);
    if (at !== -1) args.splice(at, 2);
    if (value !== null) args.push(flag, value);
  }
  const result = spawnSync(process.execPath, [CLI, 'up', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

afterAll(() => rmSync(state, { recursive: true, force: true }));

describe('tunnel-client up refuses bad flags with one coded line before touching anything', () => {
  it.each([
    [{ '--address': '10.1.12.38' }, 'ERR_INVALID_CIDR'],
    [{ '--address': '10.1.12.300/30' }, 'ERR_INVALID_CIDR'],
    [{ '--local': '192.0.2' }, 'ERR_INVALID_ADDRESS'],
    [{ '--remote': 'example.org' }, 'ERR_INVALID_ADDRESS'],
    [{ '--peer-address': '10.1.12.38' }, 'ERR_INVALID_ADDRESS'],
    [{ '--key': '4294967296' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--key': '-1' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--encap': 'ipip', '--key': '7' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--encap': 'fou', '--port': '65536' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--encap': 'fou', '--port': '0' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--port': '4754' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--encap': 'vxlan' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--name': 'a-name-far-too-long' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--mtu': '100' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--ttl': '256' }, 'ERR_INVALID_ARGUMENT'],
    [{ '--keepalive': 'soon' }, 'ERR_INVALID_ARGUMENT'],
    // Inner addresses: both or neither, and neither only for gretap.
    [{ '--peer-address': null }, 'ERR_INVALID_ARGUMENT'],
    [{ '--address': null, '--peer-address': null }, 'ERR_INVALID_ARGUMENT'],
    [{ '--encap': 'gretap', '--peer-address': null }, 'ERR_INVALID_ARGUMENT'],
    [{ '--encap': 'gretap', '--address': null }, 'ERR_INVALID_ARGUMENT'],
  ])('%j → %s', (overrides, code) => {
    const result = up(overrides);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(new RegExp(`^tunnel-client: ${code}: `));
    expect(existsSync(join(state, 'run'))).toBe(false);
  });

  it('a missing required flag is a usage error (exit 2)', () => {
    const result = up({ '--remote': null });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--remote/);
  });
});
