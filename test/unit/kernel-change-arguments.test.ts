import { describe, expect, it } from 'vitest';
import { TunnelError } from '../../shared/errors.js';
import { createIpKernelNetworkConfig } from '../../shared/system/ip-kernel-network-config.js';
import type { KernelChange } from '../../shared/system/kernel-change.js';
import type { KernelNetworkConfig } from '../../shared/system/kernel-network-config.js';
import { createRtnetlinkKernelNetworkConfig } from '../../shared/system/rtnetlink-kernel-network-config.js';
import { rejectionOf } from '../helpers/error-code.js';

// Malformed changes are refused alike by every implementation, before anything runs: no `ip` is
// spawned, no netlink message sent, no sysctl written (test/integration/tunnel-forwarding.test.ts
// and test/netns/kernel-network-config.test.ts check that a refused batch changed nothing).
const IMPLEMENTATIONS: [string, KernelNetworkConfig][] = [
  ['ip', createIpKernelNetworkConfig({ sysctlRoot: '/nonexistent-sysctl' })],
  ['rtnetlink', createRtnetlinkKernelNetworkConfig()],
];

describe.each(IMPLEMENTATIONS)('kernel changes refused before they are made (%s)', (_name, kernel) => {
  /** The code of the TunnelError apply rejects `changes` with (it fails the test when apply resolves). */
  const codeOf = async (...changes: KernelChange[]): Promise<string> => (await rejectionOf(kernel.apply(changes), TunnelError)).code;

  it.each(['', 'a'.repeat(16), 'tun 0', 'tun/0', 'tun0;rm', '..', '.', 'tün0', 'tun%d'])('refuses the interface name %j', async (link) => {
    expect(await codeOf({ kind: 'set-up', link, up: true })).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf({ kind: 'delete-link', link })).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf({ kind: 'enable-forwarding', link })).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf({ kind: 'replace-route', route: { prefix: '10.0.0.0/24', link, metric: 0 } })).toBe('ERR_INVALID_ARGUMENT');
  });

  it.each([67, 65536, 0, -1, 1500.5, Number.NaN])('refuses MTU %s', async (mtu) => {
    expect(await codeOf({ kind: 'set-mtu', link: 'tnl-hub', mtu })).toBe('ERR_INVALID_ARGUMENT');
  });

  it.each(['10.0.0.1', '10.0.0.1/33', '10.0.0/24', 'fe80::1/129', 'fe80::1%eth0/64', 'x/24', '10.0.0.1/24/1'])('refuses address %j', async (cidr) => {
    expect(await codeOf({ kind: 'add-address', link: 'tnl-hub', cidr })).toBe('ERR_INVALID_CIDR');
    expect(await codeOf({ kind: 'replace-route', route: { prefix: cidr, link: 'tnl-hub', metric: 0 } })).toBe('ERR_INVALID_CIDR');
    expect(await codeOf({ kind: 'delete-route', route: { prefix: cidr, link: null, metric: 0 } })).toBe('ERR_INVALID_CIDR');
  });

  it('refuses a route source not of the prefix\'s family, and a source or local on an unreachable route', async () => {
    const route = { prefix: '10.9.0.0/30', link: 'tnl-hub', metric: 0 };
    expect(await codeOf({ kind: 'replace-route', route: { ...route, source: '2001:db8::1' } })).toBe('ERR_INVALID_ADDRESS');
    expect(await codeOf({ kind: 'replace-route', route: { ...route, source: '10.9.0' } })).toBe('ERR_INVALID_ADDRESS');
    expect(await codeOf({ kind: 'delete-route', route: { prefix: '2001:db8::/64', link: 'tnl-hub', metric: 0, source: '10.9.0.1' } })).toBe('ERR_INVALID_ADDRESS');
    expect(await codeOf({ kind: 'replace-route', route: { prefix: '10.9.0.0/30', link: null, metric: 0, source: '10.9.0.1' } })).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf({ kind: 'replace-route', route: { prefix: '10.9.0.1/32', link: null, metric: 0, local: true } })).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf({ kind: 'replace-route', route: { ...route, local: 'yes' as unknown as boolean } })).toBe('ERR_INVALID_ARGUMENT');
  });

  it('refuses a bad peer and a peer with IPv6', async () => {
    expect(await codeOf({ kind: 'add-address', link: 'tnl-hub', cidr: '10.1.12.38/30', peer: '10.1.12' })).toBe('ERR_INVALID_ADDRESS');
    expect(await codeOf({ kind: 'add-address', link: 'tnl-hub', cidr: '2001:db8::1/64', peer: '2001:db8::2' })).toBe('ERR_INVALID_ARGUMENT');
  });

  it.each(['02:00:00:00:00', '02:00:00:00:00:0G', '02-00-00-00-00-01', '02:00:00:00:00:0A'])('refuses MAC %j', async (mac) => {
    expect(await codeOf({ kind: 'set-mac', link: 'tap0', mac })).toBe('ERR_INVALID_ARGUMENT');
  });

  it.each([-1, 1.5, 2 ** 32, Number.NaN])('refuses route metric %s', async (metric) => {
    expect(await codeOf({ kind: 'replace-route', route: { prefix: '10.0.0.0/24', link: 'tnl-hub', metric } })).toBe('ERR_INVALID_ARGUMENT');
  });

  it('refuses an unknown change, a switch state that is not a boolean, and a batch that is not an array', async () => {
    expect(await codeOf({ kind: 'rename-link', link: 'x' } as unknown as KernelChange)).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf({ kind: 'set-up', link: 'tnl-hub', up: 'yes' } as unknown as KernelChange)).toBe('ERR_INVALID_ARGUMENT');
    expect((await rejectionOf(kernel.apply('set-up' as unknown as KernelChange[]), TunnelError)).code).toBe('ERR_INVALID_ARGUMENT');
  });

  it('rejects the same batches from apply, with the same codes', async () => {
    expect(await codeOf({ kind: 'set-up', link: 'tnl-hub', up: true }, { kind: 'set-mtu', link: 'tnl-hub', mtu: 1 })).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf({ kind: 'add-address', link: 'tnl-hub', cidr: '10.0.0/24' })).toBe('ERR_INVALID_CIDR');
    expect(await codeOf({ kind: 'add-address', link: 'tnl-hub', cidr: '10.0.0.1/24', peer: 'x' })).toBe('ERR_INVALID_ADDRESS');
  });

  it.each(['a'.repeat(16), 'tnl hub', 'x;y', 42])('refuses the link name prefix %j', async (prefix) => {
    await expect(kernel.listLinks(prefix as string)).rejects.toMatchObject({ name: 'TunnelError', code: 'ERR_INVALID_ARGUMENT' });
  });
});
