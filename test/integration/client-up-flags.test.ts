import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

  describe('--esp FILE', () => {
    const KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f9001122334';
    const espFile = (name: string, text: string, mode = 0o600): string => {
      const path = join(state, name);
      writeFileSync(path, text);
      chmodSync(path, mode);
      return path;
    };
    const good = (extra = ''): string => `aead = aes-gcm\nspi-out = 0x1001\nkey-out = 0x${KEY}\nspi-in = 4097\nkey-in = ${KEY}\n${extra}`;

    it.each([
      ['readable by others (0644)', () => espFile('open.esp', good(), 0o644), {}, 'ERR_PERMISSION'],
      ['a key of 19 bytes', () => espFile('short.esp', good().replace(`key-in = ${KEY}`, `key-in = ${KEY.slice(2)}`)), {}, 'ERR_INVALID_KEY'],
      ['a key that is not hex', () => espFile('nothex.esp', good().replace(`key-in = ${KEY}`, `key-in = ${KEY.slice(2)}zz`)), {}, 'ERR_INVALID_KEY'],
      ['an SPI below 256', () => espFile('spi.esp', good().replace('spi-in = 4097', 'spi-in = 255')), {}, 'ERR_INVALID_ARGUMENT'],
      ['a line that is not name = value', () => espFile('syntax.esp', `${good()}${KEY}\n`), {}, 'ERR_INVALID_CONFIG'],
      ['fou, which ESP does not protect', () => espFile('fou.esp', good()), { '--encap': 'fou' }, 'ERR_INVALID_ARGUMENT'],
      ['a file that is not there', () => join(state, 'absent.esp'), {}, 'ERR_INVALID_CONFIG'],
    ] as const)('refuses %s with one coded line that shows no key', (_what, make, overrides, code) => {
      const result = up({ ...overrides, '--esp': make() });
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(new RegExp(`^tunnel-client: ${code}: `));
      expect(result.stderr.toLowerCase()).not.toContain(KEY.slice(2, 20));
      expect(existsSync(join(state, 'run'))).toBe(false);
    });
  });

  it('a missing required flag is a usage error (exit 2)', () => {
    const result = up({ '--remote': null });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--remote/);
  });
});
