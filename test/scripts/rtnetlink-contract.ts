/**
 * Every kind of rtnetlink request on a veth pair v0/v1 plus a TUN gone0 (IPv6 forwarding is the
 * /proc/sys write the batch makes in its place), then read back with `ip -j`; errors the kernel
 * gives; order and partial failure within one batch; more requests than one sendmsg carries;
 * malformed batches; link groups and aliases. Prints one RtnetlinkContract line.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { listRtnetlinkLinks, runRtnetlinkBatch, type RtnetlinkLink, type RtnetlinkRequest } from '../../native/index.js';
import { ipJson, type IpAddresses, type IpLink, type IpRoute } from './ip-json.js';
import { batch, briefRefusal, refusedOrOk, type BriefRtnetlinkOutcome, type RtnetlinkRefusal } from './rtnetlink-outcomes.js';

/** What the run saw. */
export interface RtnetlinkContract {
  applied: BriefRtnetlinkOutcome[];
  link: { mtu: number; address: string; up: boolean };
  addresses: { local: string; peer: string | null; prefixlen: number; nodad: boolean }[];
  routes4: { type: string; dst: string; dev: string | null; metric: number; scope: string }[];
  routes6: { dst: string; metric: number | undefined }[];
  forwarding: string;
  forwarding6: string;
  goneAfterDelete: boolean;
  ordered: BriefRtnetlinkOutcome[];
  afterOrdered: { mtu: number; up: boolean };
  upAgain: BriefRtnetlinkOutcome[];
  many: number;
  manyInstalled: number;
  manyDeleted: number;
  links: string[];
  noLinks: RtnetlinkLink[];
  malformed: 'ok' | RtnetlinkRefusal;
  malformedAddress: 'ok' | RtnetlinkRefusal;
  mtuAfterMalformed: number | undefined;
  marked: BriefRtnetlinkOutcome[];
  markedLinks: Pick<RtnetlinkLink, 'name' | 'group' | 'alias'>[];
  markMissing: BriefRtnetlinkOutcome[];
  groupDeleted: BriefRtnetlinkOutcome[];
  afterGroupDelete: string[];
  emptyGroup: BriefRtnetlinkOutcome[];
  badGroup: 'ok' | RtnetlinkRefusal;
}

execFileSync('ip', ['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
execFileSync('ip', ['tuntap', 'add', 'mode', 'tun', 'name', 'gone0']);
const applied = await batch([
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
const link = ipJson<IpLink>('link', 'show', 'dev', 'v0')[0]!;
const addresses = (ipJson<IpAddresses>('addr', 'show', 'dev', 'v0')[0]?.addr_info ?? [])
  .filter((a) => a.scope === 'global').map((a) => ({ local: a.local, peer: a.address ?? null, prefixlen: a.prefixlen, nodad: a.nodad === true }));
const routes4 = ipJson<IpRoute>('-4', 'route', 'show', 'table', 'main').filter((r) => r.protocol !== 'kernel')
  .map((r) => ({ type: r.type ?? 'unicast', dst: r.dst, dev: r.dev ?? null, metric: r.metric ?? 0, scope: r.scope ?? 'global' }));
const routes6 = ipJson<IpRoute>('-6', 'route', 'show', 'dev', 'v0').filter((r) => r.protocol !== 'kernel').map((r) => ({ dst: r.dst, metric: r.metric }));
const forwarding = readFileSync('/proc/sys/net/ipv4/conf/v0/forwarding', 'utf8').trim();
const forwarding6 = readFileSync('/proc/sys/net/ipv6/conf/v0/force_forwarding', 'utf8').trim();
const goneAfterDelete = ipJson<IpLink>('link', 'show').every((l) => l.ifname !== 'gone0');

// The kernel goes on after a refusal, in order: the last MTU wins.
const ordered = await batch([
  { op: 'set-mtu', link: 'v0', mtu: 1300 },
  { op: 'set-mtu', link: 'nosuch0', mtu: 1400 },
  { op: 'set-mtu', link: 'v0', mtu: 70000 },
  { op: 'add-address', link: 'v0', address: '10.1.0.1', prefixLength: 30, peer: '10.1.0.2', exclusive: true },
  { op: 'replace-route', link: 'v0', destination: '10.5.0.0', prefixLength: 24, metric: 1000, exclusive: true },
  { op: 'delete-route', link: 'v0', destination: '10.7.0.0', prefixLength: 24, metric: 1000 },
  { op: 'set-up', link: 'v0', up: false },
  { op: 'set-mtu', link: 'v0', mtu: 1280 },
]);
const after = ipJson<IpLink>('link', 'show', 'dev', 'v0')[0]!;

// 300 routes: three sendmsg of up to 128 requests, every ack collected (routes need the link up).
const upAgain = await batch([{ op: 'set-up', link: 'v0', up: true }]);
const many = Array.from({ length: 300 }, (_, i) => ({
  op: 'replace-route', link: 'v0', destination: `10.100.${i >> 2}.${(i & 3) * 64}`, prefixLength: 26, metric: 7,
}) as const);
const manyMade = (await batch(many)).filter((o) => o === 'ok').length;
const manyInstalled = ipJson('-4', 'route', 'show', 'dev', 'v0', 'metric', '7').length;
const manyDeleted = (await batch(many.map((r) => ({ ...r, op: 'delete-route' }) as const))).filter((o) => o === 'ok').length;
const links = (await listRtnetlinkLinks('v')).map((l) => l.name).sort();
const noLinks = await listRtnetlinkLinks('zz');

// A malformed request refuses the whole batch before anything is sent: a bad name at the call
// itself (it throws, no promise), a bad address in the promise.
let malformed: 'ok' | RtnetlinkRefusal;
const badName: RtnetlinkRequest[] = [{ op: 'set-mtu', link: 'v0', mtu: 1500 }, { op: 'set-mtu', link: 'bad name', mtu: 1500 }];
try {
  void runRtnetlinkBatch(badName);
  malformed = 'ok';
} catch (err) {
  malformed = briefRefusal(err);
}
const malformedAddress = await refusedOrOk(() => runRtnetlinkBatch([{ op: 'set-mtu', link: 'v0', mtu: 1500 }, { op: 'add-address', link: 'v0', address: '10.1.0', prefixLength: 24 }]));
const mtuAfterMalformed = ipJson<IpLink>('link', 'show', 'dev', 'v0')[0]?.mtu;

// Ownership: a group and an alias per device, read back by listRtnetlinkLinks; one request deletes the group.
for (const name of ['own0', 'own1', 'own2']) execFileSync('ip', ['tuntap', 'add', 'mode', 'tun', 'name', name]);
const marked = await batch(['own0', 'own1', 'own2'].map((name) => ({ op: 'mark-link', link: name, group: 4242, alias: 'tunnel-hub:SHA256:abc' }) as const));
const markedLinks = (await listRtnetlinkLinks('own')).map((l) => ({ name: l.name, group: l.group, alias: l.alias })).sort((a, b) => a.name.localeCompare(b.name));
const markMissing = await batch([{ op: 'mark-link', link: 'nosuch0', group: 4242, alias: 'x' }]);
const groupDeleted = await batch([{ op: 'delete-link-group', group: 4242 }]);
const afterGroupDelete = ipJson<IpLink>('link', 'show').map((l) => l.ifname).filter((name) => name.startsWith('own') || name.startsWith('v')).sort();
const emptyGroup = await batch([{ op: 'delete-link-group', group: 4242 }]);
const badGroup = await refusedOrOk(() => runRtnetlinkBatch([{ op: 'mark-link', link: 'v0', group: 0, alias: 'x' }]));
const result: RtnetlinkContract = {
  applied, link: { mtu: link.mtu, address: link.address, up: link.flags.includes('UP') }, addresses, routes4, routes6, forwarding, forwarding6,
  goneAfterDelete, ordered, afterOrdered: { mtu: after.mtu, up: after.flags.includes('UP') }, upAgain, many: manyMade, manyInstalled,
  manyDeleted, links, noLinks, malformed, malformedAddress, mtuAfterMalformed,
  marked, markedLinks, markMissing, groupDeleted, afterGroupDelete, emptyGroup, badGroup,
};
console.log(JSON.stringify(result));
