import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KernelOutcome } from '../../shared/system/kernel-change.js';
import { createIpKernelNetworkConfig } from '../../shared/system/ip-kernel-network-config.js';

/** Forwarding turned on for `name` through the ip implementation of the seam, on a stand-in /proc/sys. */
async function enableTunnelForwarding(name: string, root: string): Promise<KernelOutcome> {
  const [outcome] = await createIpKernelNetworkConfig({ sysctlRoot: root }).apply([{ kind: 'enable-forwarding', link: name }]);
  if (outcome === undefined) throw new Error('no outcome');
  return outcome;
}

/** A stand-in for /proc/sys with the files a kernel would have for `tnl-c1`. */
function sysctlTree(options: { ipv6?: boolean; forceForwarding?: boolean }): string {
  const root = mkdtempSync(join(tmpdir(), 'tunnel-sysctl-'));
  const file = (path: string): void => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), '0\n');
  };
  file('net/ipv4/conf/tnl-c1/forwarding');
  if (options.ipv6 !== false) {
    file('net/ipv6/conf/all/forwarding');
    file('net/ipv6/conf/tnl-c1/forwarding');
    if (options.forceForwarding) file('net/ipv6/conf/tnl-c1/force_forwarding');
  }
  return root;
}

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('forwarding turned on per tunnel interface', () => {
  it('uses the per-interface IPv6 switch where the kernel has one, and touches nothing else', async () => {
    const root = sysctlTree({ forceForwarding: true });
    roots.push(root);
    expect(await enableTunnelForwarding('tnl-c1', root)).toEqual({ ok: true, ipv6Forwarding: 'interface' });
    expect(readFileSync(join(root, 'net/ipv4/conf/tnl-c1/forwarding'), 'utf8')).toBe('1\n');
    expect(readFileSync(join(root, 'net/ipv6/conf/tnl-c1/force_forwarding'), 'utf8')).toBe('1\n');
    expect(readFileSync(join(root, 'net/ipv6/conf/all/forwarding'), 'utf8')).toBe('0\n');
  });

  it('falls back to all interfaces for IPv6 on an older kernel, and skips IPv6 on a kernel without it', async () => {
    const older = sysctlTree({});
    const noIpv6 = sysctlTree({ ipv6: false });
    roots.push(older, noIpv6);
    expect(await enableTunnelForwarding('tnl-c1', older)).toEqual({ ok: true, ipv6Forwarding: 'all-interfaces' });
    expect(readFileSync(join(older, 'net/ipv6/conf/all/forwarding'), 'utf8')).toBe('1\n');
    expect(await enableTunnelForwarding('tnl-c1', noIpv6)).toEqual({ ok: true, ipv6Forwarding: 'no-ipv6' });
    expect(readFileSync(join(noIpv6, 'net/ipv4/conf/tnl-c1/forwarding'), 'utf8')).toBe('1\n');
  });

  it('says which switch it could not set, with a code', async () => {
    const root = sysctlTree({ forceForwarding: true });
    roots.push(root);
    expect(await enableTunnelForwarding('tnl-c9', root)).toEqual({ ok: false, error: expect.objectContaining({
      code: 'ERR_SYSTEM', message: expect.stringMatching(/net\/ipv4\/conf\/tnl-c9\/forwarding/),
    }) });
  });

  it('changes nothing when a batch holds a malformed change', async () => {
    const root = sysctlTree({ forceForwarding: true });
    roots.push(root);
    const kernel = createIpKernelNetworkConfig({ sysctlRoot: root });
    await expect(kernel.apply([{ kind: 'enable-forwarding', link: 'tnl-c1' }, { kind: 'set-mtu', link: 'tnl-c1', mtu: 1 }]))
      .rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(readFileSync(join(root, 'net/ipv4/conf/tnl-c1/forwarding'), 'utf8')).toBe('0\n');
    expect(readFileSync(join(root, 'net/ipv6/conf/tnl-c1/force_forwarding'), 'utf8')).toBe('0\n');
  });
});
