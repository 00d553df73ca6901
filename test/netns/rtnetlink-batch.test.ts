import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespaces, deleteNamespaces, distUrl, execIn, execInAsync, runNodeScriptIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED rtnetlink batch tests: ${skipReason}`);

const nativeUrl = distUrl('native/index.js');

// Shared by the scripts: runs a batch and reduces each outcome to 'ok' or its
// code, message and errno; reads the kernel's view back with `ip -j`.
const prelude = `
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as native from '${nativeUrl}';
const brief = (outcomes) => outcomes.map((o) => o.ok ? 'ok' : { code: o.error.code, message: o.error.message, errno: o.error.errno, interfaceName: o.error.interfaceName ?? null });
const batch = async (requests) => brief(await native.runRtnetlinkBatch(requests));
const show = (...args) => JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }) || '[]');
const refusal = (err) => ({ code: err.code, message: err.message, errno: err.errno ?? null });
`;

// Every kind of request on a veth pair (IPv6 forwarding is the /proc/sys write the batch makes in
// its place), then read back; errors the kernel gives; order and partial failure within one
// batch; more requests than one sendmsg carries.
const privilegedScript = `${prelude}
execFileSync('ip', ['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
execFileSync('ip', ['tuntap', 'add', 'mode', 'tun', 'name', 'gone0']);
const result = {};
result.applied = await batch([
  { op: 'set-mtu', link: 'v0', mtu: 1400 },
  { op: 'set-mac', link: 'v0', mac: '02:00:00:00:00:01' },
  { op: 'add-address', link: 'v0', address: '10.1.0.1', prefixLength: 30, peer: '10.1.0.2' },
  { op: 'add-address', link: 'v0', address: '10.1.0.1', prefixLength: 30, peer: '10.1.0.2' },
  { op: 'add-address', link: 'v0', address: '2001:db8::1', prefixLength: 64, nodad: true },
  { op: 'set-up', link: 'v0', up: true },
  { op: 'replace-route', link: 'v0', destination: '10.5.0.0', prefixLength: 24, metric: 1000 },
  { op: 'replace-route', link: 'v0', destination: '10.5.0.0', prefixLength: 24, metric: 1000 },
  { op: 'replace-route', link: 'v0', destination: '2001:db8:5::', prefixLength: 48, metric: 1000 },
  { op: 'replace-route', link: null, destination: '10.6.0.0', prefixLength: 24, metric: 4294967295 },
  { op: 'set-ipv4-forwarding', link: 'v0', on: true },
  { op: 'set-ipv6-forwarding', link: 'v0', on: true },
  { op: 'set-ipv6-forwarding', link: 'gone0', on: true },
  { op: 'delete-link', link: 'gone0' },
  { op: 'set-ipv6-forwarding', link: 'gone0', on: true },
]);
const link = show('link', 'show', 'dev', 'v0')[0];
result.link = { mtu: link.mtu, address: link.address, up: link.flags.includes('UP') };
result.addresses = show('addr', 'show', 'dev', 'v0')[0].addr_info
  .filter((a) => a.scope === 'global').map((a) => ({ local: a.local, peer: a.address ?? null, prefixlen: a.prefixlen, nodad: a.nodad === true }));
result.routes4 = show('-4', 'route', 'show', 'table', 'main').filter((r) => r.protocol !== 'kernel')
  .map((r) => ({ type: r.type ?? 'unicast', dst: r.dst, dev: r.dev ?? null, metric: r.metric ?? 0, scope: r.scope ?? 'global' }));
result.routes6 = show('-6', 'route', 'show', 'dev', 'v0').filter((r) => r.protocol !== 'kernel').map((r) => ({ dst: r.dst, metric: r.metric }));
result.forwarding = readFileSync('/proc/sys/net/ipv4/conf/v0/forwarding', 'utf8').trim();
result.forwarding6 = readFileSync('/proc/sys/net/ipv6/conf/v0/force_forwarding', 'utf8').trim();
result.goneAfterDelete = show('link', 'show').every((l) => l.ifname !== 'gone0');

// The kernel goes on after a refusal, in order: the last MTU wins.
result.ordered = await batch([
  { op: 'set-mtu', link: 'v0', mtu: 1300 },
  { op: 'set-mtu', link: 'nosuch0', mtu: 1400 },
  { op: 'set-mtu', link: 'v0', mtu: 70000 },
  { op: 'add-address', link: 'v0', address: '10.1.0.1', prefixLength: 30, peer: '10.1.0.2', exclusive: true },
  { op: 'replace-route', link: 'v0', destination: '10.5.0.0', prefixLength: 24, metric: 1000, exclusive: true },
  { op: 'delete-route', link: 'v0', destination: '10.7.0.0', prefixLength: 24, metric: 1000 },
  { op: 'set-up', link: 'v0', up: false },
  { op: 'set-mtu', link: 'v0', mtu: 1280 },
]);
const after = show('link', 'show', 'dev', 'v0')[0];
result.afterOrdered = { mtu: after.mtu, up: after.flags.includes('UP') };

// 300 routes: three sendmsg of up to 128 requests, every ack collected (routes need the link up).
result.upAgain = await batch([{ op: 'set-up', link: 'v0', up: true }]);
const many = Array.from({ length: 300 }, (_, i) => ({ op: 'replace-route', link: 'v0', destination: '10.100.' + (i >> 2) + '.' + ((i & 3) * 64), prefixLength: 26, metric: 7 }));
result.many = (await batch(many)).filter((o) => o === 'ok').length;
result.manyInstalled = show('-4', 'route', 'show', 'dev', 'v0', 'metric', '7').length;
result.manyDeleted = (await batch(many.map((r) => ({ ...r, op: 'delete-route' })))).filter((o) => o === 'ok').length;
result.links = (await native.listRtnetlinkLinks('v')).map((l) => l.name).sort();
result.noLinks = await native.listRtnetlinkLinks('zz');

// A malformed request refuses the whole batch before anything is sent.
try { native.runRtnetlinkBatch([{ op: 'set-mtu', link: 'v0', mtu: 1500 }, { op: 'set-mtu', link: 'bad name', mtu: 1500 }]); result.malformed = 'ok'; }
catch (err) { result.malformed = refusal(err); }
try { await native.runRtnetlinkBatch([{ op: 'set-mtu', link: 'v0', mtu: 1500 }, { op: 'add-address', link: 'v0', address: '10.1.0', prefixLength: 24 }]); result.malformedAddress = 'ok'; }
catch (err) { result.malformedAddress = refusal(err); }
result.mtuAfterMalformed = show('link', 'show', 'dev', 'v0')[0].mtu;

// Ownership: a group and an alias per device, read back by listRtnetlinkLinks; one request deletes the group.
for (const name of ['own0', 'own1', 'own2']) execFileSync('ip', ['tuntap', 'add', 'mode', 'tun', 'name', name]);
result.marked = await batch(['own0', 'own1', 'own2'].map((link) => ({ op: 'mark-link', link, group: 4242, alias: 'tunnel-hub:SHA256:abc' })));
result.markedLinks = (await native.listRtnetlinkLinks('own')).map((l) => ({ name: l.name, group: l.group, alias: l.alias })).sort((a, b) => a.name.localeCompare(b.name));
result.markMissing = await batch([{ op: 'mark-link', link: 'nosuch0', group: 4242, alias: 'x' }]);
result.groupDeleted = await batch([{ op: 'delete-link-group', group: 4242 }]);
result.afterGroupDelete = show('link', 'show').map((l) => l.ifname).filter((name) => name.startsWith('own') || name.startsWith('v')).sort();
result.emptyGroup = await batch([{ op: 'delete-link-group', group: 4242 }]);
try { await native.runRtnetlinkBatch([{ op: 'mark-link', link: 'v0', group: 0, alias: 'x' }]); result.badGroup = 'ok'; } catch (err) { result.badGroup = refusal(err); }
console.log(JSON.stringify(result));
`;

// Without CAP_NET_ADMIN: every change is refused with ERR_PERMISSION; reading links still works.
const unprivilegedScript = `${prelude}
const result = {};
result.async = await batch([
  { op: 'set-mtu', link: 'lo', mtu: 1400 }, { op: 'set-ipv4-forwarding', link: 'lo', on: true }, { op: 'set-ipv6-forwarding', link: 'lo', on: true },
]);
result.route = await batch([{ op: 'replace-route', link: 'lo', destination: '10.9.0.0', prefixLength: 24, metric: 0 }]);
result.links = (await native.listRtnetlinkLinks('lo')).map((l) => l.name);
console.log(JSON.stringify(result));
`;

// Out of descriptors (run under a low RLIMIT_NOFILE): the batch cannot open its socket and is
// refused as a whole with ERR_RESOURCE_LIMIT, a code a hub can count; it works again once
// descriptors are free.
const descriptorLimitScript = `${prelude}
import { closeSync, openSync } from 'node:fs';
await native.listRtnetlinkLinks('lo'); // the addon is loaded before the descriptors run out
const held = [];
try { for (;;) held.push(openSync('/dev/null', 'r')); } catch {}
const result = {};
try { await native.runRtnetlinkBatch([{ op: 'set-up', link: 'lo', up: true }]); result.async = 'ok'; } catch (err) { result.async = refusal(err); }
for (const fd of held.splice(0, 16)) closeSync(fd);
result.afterwards = await batch([{ op: 'set-up', link: 'lo', up: true }]);
for (const fd of held) closeSync(fd);
console.log(JSON.stringify(result));
`;

describe.skipIf(skipReason)('rtnetlink batches against the kernel (netns)', () => {
  const namespace = `${uniquePrefix()}rtnl`;

  beforeAll(() => createNamespaces([namespace]));
  afterAll(() => deleteNamespaces([namespace]));

  it('makes every kind of change, one outcome per request, in order, with the kernel\'s errno and reason', async () => {
    const result = (await runNodeScriptIn(namespace, privilegedScript)) as Record<string, unknown>;
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
      process.execPath, '--input-type=module', '-e', unprivilegedScript,
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
    const run = await execInAsync(namespace, 'prlimit', ['--nofile=128', process.execPath, '--input-type=module', '-e', descriptorLimitScript]);
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    const limit = { code: 'ERR_RESOURCE_LIMIT', errno: 24, message: expect.stringMatching(/^rtnetlink batch: socket NETLINK_ROUTE: Too many open files/) };
    expect(result.async).toEqual(limit);
    expect(result.afterwards).toEqual(['ok']);
  });
});
