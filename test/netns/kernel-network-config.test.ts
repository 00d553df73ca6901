import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, distUrl, execInAsync, runNodeScriptIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED kernel network configuration contract tests: ${skipReason}`);

// One contract, every implementation of the seam: `ip` and rtnetlink, each through apply, on a
// veth pair of its own in one namespace, read back with `ip -j`.
const IMPLEMENTATIONS = [
  { name: 'ip', n: 2 },
  { name: 'rtnetlink', n: 4 },
] as const;

const prelude = `
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createIpKernelNetworkConfig } from '${distUrl('shared/system/ip-kernel-network-config.js')}';
import { createRtnetlinkKernelNetworkConfig } from '${distUrl('shared/system/rtnetlink-kernel-network-config.js')}';
const implementations = { ip: createIpKernelNetworkConfig(), rtnetlink: createRtnetlinkKernelNetworkConfig() };
const brief = (outcomes) => outcomes.map((o) => o.ok ? (o.ipv6Forwarding ? { ipv6Forwarding: o.ipv6Forwarding } : 'ok') : { code: o.error.code, name: o.error.name, message: o.error.message });
const apply = async (config, changes) => brief(await config.apply(changes));
const refusal = (err) => ({ code: err.code, name: err.name, message: err.message });
const show = (...args) => JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }) || '[]');
`;

const contractScript = `${prelude}
const [name, n] = [process.argv[1], Number(process.argv[2])];
const config = implementations[name];
const dev = 'k' + n + 'a';
execFileSync('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', 'k' + n + 'b']);
execFileSync('ip', ['tuntap', 'add', 'mode', 'tun', 'name', 'k' + n + 'gone']);
const state = () => {
  const link = show('link', 'show', 'dev', dev)[0];
  return {
    mtu: link.mtu, mac: link.address, up: link.flags.includes('UP'),
    addresses: show('addr', 'show', 'dev', dev)[0].addr_info.filter((a) => a.scope === 'global')
      .map((a) => ({ local: a.local, peer: a.address ?? null, prefixlen: a.prefixlen, nodad: a.nodad === true })),
    routes4: show('-4', 'route', 'show', 'dev', dev).filter((r) => r.protocol !== 'kernel').map((r) => ({ dst: r.dst, metric: r.metric ?? 0, scope: r.scope ?? 'global', protocol: r.protocol ?? 'boot' })),
    routes6: show('-6', 'route', 'show', 'dev', dev).filter((r) => r.protocol !== 'kernel').map((r) => ({ dst: r.dst, metric: r.metric })),
    unreachable: show('-4', 'route', 'show', 'type', 'unreachable').filter((r) => r.dst === '10.60.' + n + '.0/24').map((r) => ({ dst: r.dst, metric: r.metric })),
    forwarding4: readFileSync('/proc/sys/net/ipv4/conf/' + dev + '/forwarding', 'utf8').trim(),
    forwarding6: readFileSync('/proc/sys/net/ipv6/conf/' + dev + '/force_forwarding', 'utf8').trim(),
  };
};
const result = {};
result.made = await apply(config, [
  { kind: 'set-mtu', link: dev, mtu: 1400 },
  { kind: 'set-mac', link: dev, mac: '02:00:00:00:00:0' + n },
  { kind: 'add-address', link: dev, cidr: '10.1.' + n + '.1/30', peer: '10.1.' + n + '.2' },
  { kind: 'add-address', link: dev, cidr: '10.1.' + n + '.1/30', peer: '10.1.' + n + '.2' },
  { kind: 'add-address', link: dev, cidr: '2001:db8:' + n + '::1/64' },
  { kind: 'set-up', link: dev, up: true },
  { kind: 'enable-forwarding', link: dev },
  { kind: 'replace-route', route: { prefix: '10.50.' + n + '.0/24', link: dev, metric: 1000 } },
  { kind: 'replace-route', route: { prefix: '2001:db8:5' + n + '::/48', link: dev, metric: 1000 } },
  { kind: 'replace-route', route: { prefix: '10.60.' + n + '.0/24', link: null, metric: 4294967295 } },
]);
result.state = state();
// More changes than one slice of the rtnetlink implementation's apply (256), in order.
const many = Array.from({ length: 300 }, (_, i) => ({ kind: 'replace-route', route: { prefix: '10.' + (100 + n) + '.' + (i >> 2) + '.' + ((i & 3) * 64) + '/26', link: dev, metric: 7 } }));
result.many = (await apply(config, many)).filter((o) => o === 'ok').length;
result.manyInstalled = show('-4', 'route', 'show', 'dev', dev, 'metric', '7').length;
result.manyDeleted = (await apply(config, many.map((c) => ({ kind: 'delete-route', route: c.route })))).filter((o) => o === 'ok').length;
result.changed = await apply(config, [
  { kind: 'delete-route', route: { prefix: '10.50.' + n + '.0/24', link: dev, metric: 1000 } },
  { kind: 'delete-route', route: { prefix: '10.60.' + n + '.0/24', link: null, metric: 4294967295 } },
  { kind: 'set-mtu', link: 'k' + n + 'nosuch', mtu: 1400 },
  { kind: 'set-mac', link: 'k' + n + 'gone', mac: '02:00:00:00:01:0' + n },
  { kind: 'set-up', link: dev, up: false },
  { kind: 'delete-link', link: 'k' + n + 'gone' },
]);
result.afterChange = state();
result.goneAfterDelete = show('link', 'show').every((l) => l.ifname !== 'k' + n + 'gone');
try { await config.apply([{ kind: 'set-mtu', link: dev, mtu: 1300 }, { kind: 'set-mtu', link: dev, mtu: 1 }]); result.malformed = 'ok'; }
catch (err) { result.malformed = refusal(err); }
result.mtuAfterMalformed = show('link', 'show', 'dev', dev)[0].mtu;
result.links = (await config.listLinks('k' + n)).map((link) => link.name).sort();
// Ownership: a link group and an alias on devices of one owner, read back, then all deleted in one request.
const group = 4000 + n;
for (const i of [1, 2, 3]) execFileSync('ip', ['tuntap', 'add', 'mode', 'tun', 'name', 'k' + n + 'own' + i]);
result.marked = await apply(config, [1, 2, 3].map((i) => ({ kind: 'mark-link', link: 'k' + n + 'own' + i, group, alias: 'tunnel-hub:test ' + n })));
result.markedLinks = (await config.listLinks('k' + n + 'own')).sort((x, y) => x.name.localeCompare(y.name));
result.groupDeleted = await apply(config, [{ kind: 'delete-link-group', group }]);
result.afterGroupDelete = show('link', 'show').filter((l) => l.ifname.startsWith('k' + n)).map((l) => l.ifname).sort();
result.markMissing = await apply(config, [{ kind: 'mark-link', link: 'k' + n + 'nosuch', group, alias: 'x' }]);
console.log(JSON.stringify(result));
`;

// Without CAP_NET_ADMIN, every implementation refuses changes with ERR_PERMISSION.
const unprivilegedScript = `${prelude}
const result = {};
for (const [name, config] of Object.entries(implementations)) {
  result[name] = {
    changes: await apply(config, [{ kind: 'set-mtu', link: 'lo', mtu: 1400 }, { kind: 'enable-forwarding', link: 'lo' }]),
    route: await apply(config, [{ kind: 'replace-route', route: { prefix: '10.9.0.0/24', link: 'lo', metric: 0 } }]),
  };
}
console.log(JSON.stringify(result));
`;

describe.skipIf(skipReason)('the kernel network configuration seam (netns): one contract for ip and rtnetlink', () => {
  const namespace = `${uniquePrefix()}knc`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it.each(IMPLEMENTATIONS)('$name makes every change, reads back the same, and refuses alike', async ({ name, n }) => {
    const result = (await runNodeScriptIn(namespace, contractScript, [name, String(n)])) as Record<string, unknown>;
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
  });

  it('refuses every change without CAP_NET_ADMIN with ERR_PERMISSION, whatever the implementation', async () => {
    const run = await execInAsync(namespace, 'setpriv', [
      '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
      process.execPath, '--input-type=module', '-e', unprivilegedScript,
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
