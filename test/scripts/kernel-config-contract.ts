/**
 * The kernel configuration seam's contract for one implementation (NAME: ip | rtnetlink), on a
 * veth pair kNa/kNb of its own plus a TUN kNgone: every kind of change, read back with `ip -j`;
 * more changes than one rtnetlink slice; refusals in a batch; a malformed batch; link groups and
 * aliases marked, listed and deleted by group. Prints one KernelConfigContract line.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { KernelChange, KernelLink } from '../../shared/system/kernel-change.js';
import { ipJson, type IpAddresses, type IpLink, type IpRoute } from './ip-json.js';
import { applyBrief, briefRefusal, kernelConfigs, type BriefOutcome, type BriefRefusal, type KernelConfigName } from './kernel-config-outcomes.js';
import { scriptArgs } from './script-args.js';

/** The interface kNa as `ip -j` shows it. */
export interface KernelConfigState {
  mtu: number;
  mac: string;
  up: boolean;
  addresses: { local: string; peer: string | null; prefixlen: number; nodad: boolean }[];
  routes4: { dst: string; metric: number; scope: string; protocol: string }[];
  routes6: { dst: string; metric: number | undefined }[];
  unreachable: { dst: string; metric: number | undefined }[];
  forwarding4: string;
  forwarding6: string;
}

/** What the contract run saw. */
export interface KernelConfigContract {
  made: BriefOutcome[];
  state: KernelConfigState;
  many: number;
  manyInstalled: number;
  manyDeleted: number;
  changed: BriefOutcome[];
  afterChange: KernelConfigState;
  goneAfterDelete: boolean;
  malformed: 'ok' | BriefRefusal;
  mtuAfterMalformed: number | undefined;
  links: string[];
  marked: BriefOutcome[];
  markedLinks: KernelLink[];
  groupDeleted: BriefOutcome[];
  afterGroupDelete: string[];
  markMissing: BriefOutcome[];
  /** A local route in table local and a route with that address as source, then both deleted. */
  sourced: { made: BriefOutcome[]; local: string[]; towards: string[]; deleted: BriefOutcome[]; left: number };
}

const args = scriptArgs('name', 'n');
const config = kernelConfigs[args.name as KernelConfigName];
const n = Number(args.n);
const dev = `k${n}a`;
execFileSync('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `k${n}b`]);
execFileSync('ip', ['tuntap', 'add', 'mode', 'tun', 'name', `k${n}gone`]);

function state(): KernelConfigState {
  const link = ipJson<IpLink>('link', 'show', 'dev', dev)[0]!;
  return {
    mtu: link.mtu, mac: link.address, up: link.flags.includes('UP'),
    addresses: (ipJson<IpAddresses>('addr', 'show', 'dev', dev)[0]?.addr_info ?? []).filter((a) => a.scope === 'global')
      .map((a) => ({ local: a.local, peer: a.address ?? null, prefixlen: a.prefixlen, nodad: a.nodad === true })),
    routes4: ipJson<IpRoute>('-4', 'route', 'show', 'dev', dev).filter((r) => r.protocol !== 'kernel')
      .map((r) => ({ dst: r.dst, metric: r.metric ?? 0, scope: r.scope ?? 'global', protocol: r.protocol ?? 'boot' })),
    routes6: ipJson<IpRoute>('-6', 'route', 'show', 'dev', dev).filter((r) => r.protocol !== 'kernel').map((r) => ({ dst: r.dst, metric: r.metric })),
    unreachable: ipJson<IpRoute>('-4', 'route', 'show', 'type', 'unreachable').filter((r) => r.dst === `10.60.${n}.0/24`)
      .map((r) => ({ dst: r.dst, metric: r.metric })),
    forwarding4: readFileSync(`/proc/sys/net/ipv4/conf/${dev}/forwarding`, 'utf8').trim(),
    forwarding6: readFileSync(`/proc/sys/net/ipv6/conf/${dev}/force_forwarding`, 'utf8').trim(),
  };
}

const made = await applyBrief(config, [
  { kind: 'set-mtu', link: dev, mtu: 1400 },
  { kind: 'set-mac', link: dev, mac: `02:00:00:00:00:0${n}` },
  { kind: 'add-address', link: dev, cidr: `10.1.${n}.1/30`, peer: `10.1.${n}.2` },
  { kind: 'add-address', link: dev, cidr: `10.1.${n}.1/30`, peer: `10.1.${n}.2` },
  { kind: 'add-address', link: dev, cidr: `2001:db8:${n}::1/64` },
  { kind: 'set-up', link: dev, up: true },
  { kind: 'enable-forwarding', link: dev },
  { kind: 'replace-route', route: { prefix: `10.50.${n}.0/24`, link: dev, metric: 1000 } },
  { kind: 'replace-route', route: { prefix: `2001:db8:5${n}::/48`, link: dev, metric: 1000 } },
  { kind: 'replace-route', route: { prefix: `10.60.${n}.0/24`, link: null, metric: 4294967295 } },
]);
const madeState = state();
// More changes than one slice of the rtnetlink implementation's apply (256), in order.
const many = Array.from({ length: 300 }, (_, i) => ({
  kind: 'replace-route', route: { prefix: `10.${100 + n}.${i >> 2}.${(i & 3) * 64}/26`, link: dev, metric: 7 },
}) as const);
const manyMade = (await applyBrief(config, many)).filter((o) => o === 'ok').length;
const manyInstalled = ipJson('-4', 'route', 'show', 'dev', dev, 'metric', '7').length;
const manyDeleted = (await applyBrief(config, many.map((c) => ({ kind: 'delete-route', route: c.route }) as const))).filter((o) => o === 'ok').length;
const changed = await applyBrief(config, [
  { kind: 'delete-route', route: { prefix: `10.50.${n}.0/24`, link: dev, metric: 1000 } },
  { kind: 'delete-route', route: { prefix: `10.60.${n}.0/24`, link: null, metric: 4294967295 } },
  { kind: 'set-mtu', link: `k${n}nosuch`, mtu: 1400 },
  { kind: 'set-mac', link: `k${n}gone`, mac: `02:00:00:00:01:0${n}` },
  { kind: 'set-up', link: dev, up: false },
  { kind: 'delete-link', link: `k${n}gone` },
]);
const afterChange = state();
const goneAfterDelete = ipJson<IpLink>('link', 'show').every((l) => l.ifname !== `k${n}gone`);
const malformedBatch: KernelChange[] = [{ kind: 'set-mtu', link: dev, mtu: 1300 }, { kind: 'set-mtu', link: dev, mtu: 1 }];
let malformed: KernelConfigContract['malformed'];
try {
  await config.apply(malformedBatch);
  malformed = 'ok';
} catch (err) {
  malformed = briefRefusal(err);
}
const mtuAfterMalformed = ipJson<IpLink>('link', 'show', 'dev', dev)[0]?.mtu;
const links = (await config.listLinks(`k${n}`)).map((link) => link.name).sort();
// Ownership: a link group and an alias on devices of one owner, read back, then all deleted in one request.
const group = 4000 + n;
for (const i of [1, 2, 3]) execFileSync('ip', ['tuntap', 'add', 'mode', 'tun', 'name', `k${n}own${i}`]);
const marked = await applyBrief(config, [1, 2, 3].map((i) => ({ kind: 'mark-link', link: `k${n}own${i}`, group, alias: `tunnel-hub:test ${n}` }) as const));
const markedLinks = (await config.listLinks(`k${n}own`)).sort((x, y) => x.name.localeCompare(y.name));
const groupDeleted = await applyBrief(config, [{ kind: 'delete-link-group', group }]);
const afterGroupDelete = ipJson<IpLink>('link', 'show').filter((l) => l.ifname.startsWith(`k${n}`)).map((l) => l.ifname).sort();
const markMissing = await applyBrief(config, [{ kind: 'mark-link', link: `k${n}nosuch`, group, alias: 'x' }]);
// The shared member device's way of holding an inner /30: routes, no address (the link is up again first).
const hubEnd = { prefix: `10.2.${n}.1/32`, link: dev, metric: 0, local: true };
const towards = { prefix: `10.2.${n}.0/30`, link: dev, metric: 0, source: `10.2.${n}.1` };
const sourcedMade = await applyBrief(config, [{ kind: 'set-up', link: dev, up: true }, { kind: 'replace-route', route: hubEnd }, { kind: 'replace-route', route: towards }]);
const ownRoutes = (table: string): (IpRoute & { prefsrc?: string })[] =>
  ipJson<IpRoute & { prefsrc?: string }>('-4', 'route', 'show', 'table', table, 'dev', dev).filter((r) => r.dst.startsWith(`10.2.${n}.`));
const sourcedLocal = ownRoutes('local').map((r) => `${r.type ?? 'unicast'} ${r.dst}`);
const sourcedTowards = ownRoutes('main').map((r) => `${r.dst} src ${r.prefsrc ?? '-'}`);
const sourcedDeleted = await applyBrief(config, [{ kind: 'delete-route', route: towards }, { kind: 'delete-route', route: hubEnd }]);
const sourced = { made: sourcedMade, local: sourcedLocal, towards: sourcedTowards, deleted: sourcedDeleted, left: ownRoutes('all').length };
const result: KernelConfigContract = {
  made, state: madeState, many: manyMade, manyInstalled, manyDeleted, changed, afterChange, goneAfterDelete, malformed,
  mtuAfterMalformed, links, marked, markedLinks, groupDeleted, afterGroupDelete, markMissing, sourced,
};
console.log(JSON.stringify(result));
