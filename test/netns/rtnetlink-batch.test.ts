import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, execIn, execInAsync, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import type { RtnetlinkContract } from '../scripts/rtnetlink-contract.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED rtnetlink batch tests: ${skipReason}`);

describe.skipIf(skipReason)('rtnetlink batches against the kernel (netns)', () => {
  const namespace = `${uniquePrefix()}rtnl`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it('makes every kind of change, one outcome per request, in order, with the kernel\'s errno and reason', async () => {
    const result = (await runNodeIn(namespace, testScript('rtnetlink-contract'))) as RtnetlinkContract;
    // The /proc/sys write runs in its place: before the deletion it works, after it the switch is gone.
    expect(result.applied).toEqual([...Array(14).fill('ok'), {
      code: 'ERR_DEVICE_NOT_FOUND', errno: 2, interfaceName: 'gone0', message: 'turning IPv6 forwarding on for gone0: No such file or directory',
    }]);
    expect(result.link).toEqual({ mtu: 1400, address: '02:00:00:00:00:01', up: true });
    expect(result.addresses).toEqual([
      { local: '10.1.0.1', peer: '10.1.0.2', prefixlen: 30, nodad: false },
      { local: '2001:db8::1', peer: null, prefixlen: 64, nodad: true },
    ]);
    expect(result.routes4).toEqual([
      { type: 'unicast', dst: '10.5.0.0/24', dev: 'v0', metric: 1000, scope: 'link' },
      { type: 'unreachable', dst: '10.6.0.0/24', dev: null, metric: 4294967295, scope: 'global' },
    ]);
    expect(result.routes6).toEqual([{ dst: '2001:db8:5::/48', metric: 1000 }]);
    expect(result.forwarding).toBe('1');
    expect(result.forwarding6).toBe('1');
    expect(result.goneAfterDelete).toBe(true);

    const refused = (code: string, errno: number, text: string, interfaceName: string | null): unknown =>
      ({ code, errno, interfaceName, message: expect.stringContaining(text) });
    expect(result.ordered).toEqual([
      'ok',
      refused('ERR_DEVICE_NOT_FOUND', 19, 'setting the MTU of nosuch0 to 1400: No such device', 'nosuch0'),
      refused('ERR_SYSTEM', 22, 'setting the MTU of v0 to 70000: Invalid argument: mtu greater than device maximum', 'v0'),
      refused('ERR_ALREADY_EXISTS', 17, 'adding address 10.1.0.1 peer 10.1.0.2/30 to v0: File exists', 'v0'),
      refused('ERR_ALREADY_EXISTS', 17, 'adding route 10.5.0.0/24 metric 1000 via v0: File exists', 'v0'),
      refused('ERR_SYSTEM', 3, 'deleting route 10.7.0.0/24 metric 1000 via v0: No such process', 'v0'),
      'ok',
      'ok',
    ]);
    expect(result.afterOrdered).toEqual({ mtu: 1280, up: false });

    expect(result.upAgain).toEqual(['ok']);
    expect(result.many).toBe(300);
    expect(result.manyInstalled).toBe(300);
    expect(result.manyDeleted).toBe(300);
    expect(result.links).toEqual(['v0', 'v1']);
    expect(result.noLinks).toEqual([]);

    expect(result.malformed).toEqual({ code: 'ERR_INVALID_ARGUMENT', errno: null, message: expect.stringContaining('bad interface name "bad name"') });
    expect(result.malformedAddress).toEqual({ code: 'ERR_INVALID_ADDRESS', errno: null, message: expect.stringContaining('"10.1.0" is not an IPv4 or IPv6 address') });
    expect(result.mtuAfterMalformed).toBe(1280);

    expect(result.marked).toEqual(['ok', 'ok', 'ok']);
    expect(result.markedLinks).toEqual(['own0', 'own1', 'own2'].map((name) => ({ name, group: 4242, alias: 'tunnel-hub:SHA256:abc' })));
    expect(result.markMissing).toEqual([refused('ERR_DEVICE_NOT_FOUND', 19, 'nosuch0', 'nosuch0')]);
    expect(result.groupDeleted).toEqual(['ok']);
    expect(result.afterGroupDelete).toEqual(['v0', 'v1']);
    expect(result.emptyGroup).toEqual([expect.objectContaining({ code: 'ERR_DEVICE_NOT_FOUND' })]);
    expect(result.badGroup).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('refuses every change without CAP_NET_ADMIN with ERR_PERMISSION, and still lists links', async () => {
    const run = await execInAsync(namespace, 'setpriv', [
      '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
      process.execPath, testScript('rtnetlink-unprivileged'),
    ]);
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    const denied = (text: string): unknown => ({ code: 'ERR_PERMISSION', errno: 1, interfaceName: 'lo', message: expect.stringContaining(text) });
    expect(result.async).toEqual([
      denied('setting the MTU of lo to 1400: needs root or CAP_NET_ADMIN (Operation not permitted'),
      denied('turning IPv4 forwarding on for lo: needs root or CAP_NET_ADMIN'),
      { ...(denied('turning IPv6 forwarding on for lo: needs root or CAP_NET_ADMIN (Permission denied)') as object), errno: 13 },
    ]);
    expect(result.route).toEqual([denied('adding route 10.9.0.0/24 metric 0 via lo: needs root or CAP_NET_ADMIN')]);
    expect(result.links).toEqual(['lo']);
    expect(execIn(namespace, 'cat', ['/sys/class/net/lo/mtu']).trim()).toBe('65536');
  });

  it('refuses a batch that cannot open its socket with ERR_RESOURCE_LIMIT', async () => {
    const run = await execInAsync(namespace, 'prlimit', ['--nofile=128', process.execPath, testScript('rtnetlink-descriptor-limit')]);
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    const limit = { code: 'ERR_RESOURCE_LIMIT', errno: 24, message: expect.stringMatching(/^rtnetlink batch: socket NETLINK_ROUTE: Too many open files/) };
    expect(result.async).toEqual(limit);
    expect(result.afterwards).toEqual(['ok']);
  });
});
