import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, execInAsync, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import type { KernelConfigContract } from '../scripts/kernel-config-contract.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED kernel network configuration contract tests: ${skipReason}`);

// One contract, every implementation of the seam: `ip` and rtnetlink, each through apply, on a
// veth pair of its own in one namespace, read back with `ip -j`.
const IMPLEMENTATIONS = [
  { name: 'ip', n: 2 },
  { name: 'rtnetlink', n: 4 },
] as const;

describe.skipIf(skipReason)('the kernel network configuration seam (netns): one contract for ip and rtnetlink', () => {
  const namespace = `${uniquePrefix()}knc`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it.each(IMPLEMENTATIONS)('$name makes every change, reads back the same, and refuses alike', async ({ name, n }) => {
    const result = (await runNodeIn(namespace, testScript('kernel-config-contract'), [name, String(n)])) as KernelConfigContract;
    const dev = `k${n}a`;
    expect(result.made).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', { ipv6Forwarding: 'interface' }, 'ok', 'ok', 'ok']);
    expect(result.state).toEqual({
      mtu: 1400, mac: `02:00:00:00:00:0${n}`, up: true,
      addresses: [
        { local: `10.1.${n}.1`, peer: `10.1.${n}.2`, prefixlen: 30, nodad: false },
        { local: `2001:db8:${n}::1`, peer: null, prefixlen: 64, nodad: true },
      ],
      routes4: [{ dst: `10.50.${n}.0/24`, metric: 1000, scope: 'link', protocol: 'boot' }],
      routes6: [{ dst: `2001:db8:5${n}::/48`, metric: 1000 }],
      unreachable: [{ dst: `10.60.${n}.0/24`, metric: 4294967295 }],
      forwarding4: '1',
      forwarding6: '1',
    });
    expect({ many: result.many, manyInstalled: result.manyInstalled, manyDeleted: result.manyDeleted }).toEqual({ many: 300, manyInstalled: 300, manyDeleted: 300 });
    const refused = (code: string, text: string): unknown => ({ code, name: 'TunnelError', message: expect.stringContaining(text) });
    expect(result.changed).toEqual([
      'ok',
      'ok',
      refused('ERR_DEVICE_NOT_FOUND', `k${n}nosuch`),
      refused('ERR_SYSTEM', 'Operation not supported'),
      'ok',
      'ok',
    ]);
    expect(result.afterChange).toMatchObject({ mtu: 1400, up: false, routes4: [], unreachable: [] });
    expect(result.goneAfterDelete).toBe(true);
    expect(result.malformed).toEqual({ code: 'ERR_INVALID_ARGUMENT', name: 'TunnelError', message: 'MTU must be an integer from 68 to 65535, got 1' });
    expect(result.mtuAfterMalformed).toBe(1400);
    expect(result.links).toEqual([dev, `k${n}b`]);
    expect(result.marked).toEqual(['ok', 'ok', 'ok']);
    expect(result.markedLinks).toEqual([1, 2, 3].map((i) => ({ name: `k${n}own${i}`, group: 4000 + n, alias: `tunnel-hub:test ${n}` })));
    expect(result.groupDeleted).toEqual(['ok']);
    expect(result.afterGroupDelete).toEqual([dev, `k${n}b`]);
    expect(result.markMissing).toEqual([refused('ERR_DEVICE_NOT_FOUND', `k${n}nosuch`)]);
    expect(result.sourced).toEqual({
      made: ['ok', 'ok', 'ok'], local: [`local 10.2.${n}.1`], towards: [`10.2.${n}.0/30 src 10.2.${n}.1`], deleted: ['ok', 'ok'], left: 0,
    });
  });

  it('refuses every change without CAP_NET_ADMIN with ERR_PERMISSION, whatever the implementation', async () => {
    const run = await execInAsync(namespace, 'setpriv', [
      '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
      process.execPath, testScript('kernel-config-unprivileged'),
    ]);
    expect(run.stderr).toBe('');
    const denied = { code: 'ERR_PERMISSION', name: 'TunnelError', message: expect.stringContaining('needs root or CAP_NET_ADMIN') };
    const forwardingDenied = { code: 'ERR_PERMISSION', name: 'TunnelError', message: expect.stringMatching(/needs root or CAP_NET_ADMIN|permission denied/) };
    expect(JSON.parse(run.stdout)).toEqual({
      ip: { changes: [denied, forwardingDenied], route: [denied] },
      rtnetlink: { changes: [denied, forwardingDenied], route: [denied] },
    });
  });
});
