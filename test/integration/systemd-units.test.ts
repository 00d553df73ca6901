import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/netns.js';

const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const missing = probe.error ? 'systemd-analyze is missing (Debian package systemd; `npm run setup:test` installs it)' : null;
if (missing) console.warn(`SKIPPING the systemd unit checks: ${missing}`);

const UNITS = [
  { file: 'tunnel-hub.service', program: 'tunnel-hub', cli: 'dist/server/cli.js', user: 'tunnel-hub', state: 'TUNNEL_HUB_STATE=/var/lib/tunnel-hub' },
  { file: 'tunnel-client.service', program: 'tunnel-client', cli: 'dist/client/cli.js', user: 'tunnel-client', state: 'TUNNEL_CLIENT_STATE=/var/lib/tunnel-client' },
] as const;

/** The value of every `Key=` line of a unit. */
function settings(text: string, key: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
}

describe.skipIf(missing !== null)('the systemd units', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-units-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(UNITS)('$file passes systemd-analyze verify (works without systemd running)', (unit) => {
    const text = readFileSync(join(repoRoot(), 'systemd', unit.file), 'utf8');
    expect(settings(text, 'ExecStart')[0]?.split(' ')[0]).toBe(unit.program);
    // verify checks that the program exists: point it at this checkout's build, the one change.
    const local = text.replace(`ExecStart=${unit.program}`, `ExecStart=${process.execPath} ${join(repoRoot(), unit.cli)}`);
    writeFileSync(join(dir, unit.file), local);
    const result = spawnSync('systemd-analyze', ['verify', `./${unit.file}`], { cwd: dir, encoding: 'utf8' });
    expect({ status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({ status: 0, output: '' });
  });

  it.each(UNITS)('$file runs as its own user with CAP_NET_ADMIN and CAP_NET_RAW only, hardened', (unit) => {
    const text = readFileSync(join(repoRoot(), 'systemd', unit.file), 'utf8');
    expect(settings(text, 'User')).toEqual([unit.user]);
    expect(settings(text, 'AmbientCapabilities')).toEqual(['CAP_NET_ADMIN CAP_NET_RAW']);
    expect(settings(text, 'CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN CAP_NET_RAW']);
    expect(settings(text, 'StateDirectory')).toEqual([unit.user]);
    expect(settings(text, 'Environment')).toEqual([unit.state]);
    expect(settings(text, 'Restart')).toEqual(['on-failure']);
    expect(settings(text, 'DeviceAllow')).toEqual(['/dev/net/tun rw']);
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'],
      ['DevicePolicy', 'closed'], ['RestrictNamespaces', 'yes'], ['RestrictSUIDSGID', 'yes'], ['SystemCallFilter', '@system-service']]) {
      expect(settings(text, key ?? '')).toEqual([value]);
    }
    expect(settings(text, 'RestrictAddressFamilies')[0]?.split(' ').sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
    expect(settings(text, 'ProtectKernelTunables')).toEqual(['yes']);
  });

  it('tunnel-hub.service keeps writable only the forwarding switches the hub turns on for its tunnels', () => {
    const text = readFileSync(join(repoRoot(), 'systemd', 'tunnel-hub.service'), 'utf8');
    expect(settings(text, 'ReadWritePaths')).toEqual(['/proc/sys/net/ipv4/conf -/proc/sys/net/ipv6/conf']);
  });
});
