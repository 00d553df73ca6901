/**
 * Local routes (type local, table local) and routes with a preferred source through rtnetlink,
 * on a veth v0: what the kernel holds and answers afterwards (`ip -j route get`), its refusals,
 * deletion, and malformed requests. Prints one RtnetlinkLocalRoutes line.
 */
import { execFileSync } from 'node:child_process';
import { runRtnetlinkBatch } from '../../native/index.js';
import { ipJson } from './ip-json.js';
import { batch, refusedOrOk, type BriefRtnetlinkOutcome, type RtnetlinkRefusal } from './rtnetlink-outcomes.js';

/** What the run saw. */
export interface RtnetlinkLocalRoutes {
  added: BriefRtnetlinkOutcome[];
  local4: { type: string; dst: string; scope: string; table: string }[];
  main4: { dst: string; prefsrc: string | null; scope: string }[];
  /** `ip route get` of the hub's end and of the member's end. */
  getLocal: { type: string; prefsrc: string | null };
  getPeer: { type: string; dev: string; prefsrc: string | null };
  local6: { type: string; dst: string }[];
  refused: BriefRtnetlinkOutcome[];
  deleted: BriefRtnetlinkOutcome[];
  left4: number;
  left6: number;
  deletedAgain: BriefRtnetlinkOutcome[];
  otherFamily: RtnetlinkRefusal | 'ok';
  unreachableWithSource: RtnetlinkRefusal | 'ok';
}

interface IpRouteDetail { type?: string; dst: string; dev?: string; scope?: string; table?: string; prefsrc?: string }

execFileSync('ip', ['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
execFileSync('ip', ['link', 'set', 'v0', 'up']);
execFileSync('ip', ['link', 'set', 'v1', 'up']);
const local = { op: 'replace-route', link: 'v0', destination: '10.9.0.1', prefixLength: 32, metric: 0, local: true } as const;
const towards = { op: 'replace-route', link: 'v0', destination: '10.9.0.0', prefixLength: 30, metric: 0, source: '10.9.0.1' } as const;
const local6 = { op: 'replace-route', link: 'v0', destination: '2001:db8:9::1', prefixLength: 128, metric: 0, local: true } as const;
// The local route first: the kernel takes an IPv4 route's source only when the host holds it.
const added = await batch([local, towards, { ...towards }, local6]);
const local4 = ipJson<IpRouteDetail>('-4', 'route', 'show', 'table', 'local', 'dev', 'v0')
  .map((r) => ({ type: r.type ?? 'unicast', dst: r.dst, scope: r.scope ?? 'global', table: r.table ?? 'local' }));
const main4 = ipJson<IpRouteDetail>('-4', 'route', 'show', 'table', 'main', 'dev', 'v0')
  .map((r) => ({ dst: r.dst, prefsrc: r.prefsrc ?? null, scope: r.scope ?? 'global' }));
const [hub] = ipJson<IpRouteDetail>('-4', 'route', 'get', '10.9.0.1');
const [peer] = ipJson<IpRouteDetail>('-4', 'route', 'get', '10.9.0.2');
const local6Routes = ipJson<IpRouteDetail>('-6', 'route', 'show', 'table', 'local', 'dev', 'v0')
  .filter((r) => r.dst === '2001:db8:9::1').map((r) => ({ type: r.type ?? 'unicast', dst: r.dst }));
// A source the host does not hold (IPv4: no local route; IPv6: no address) is refused.
const refused = await batch([
  { op: 'replace-route', link: 'v0', destination: '10.9.1.0', prefixLength: 30, metric: 0, source: '10.9.1.1' },
  { op: 'replace-route', link: 'v0', destination: '2001:db8:9::', prefixLength: 64, metric: 0, source: '2001:db8:9::1' },
]);
const deleted = await batch([{ ...towards, op: 'delete-route' }, { ...local, op: 'delete-route' }, { ...local6, op: 'delete-route' }]);
const left4 = ipJson('-4', 'route', 'show', 'table', 'all', 'dev', 'v0').filter((r) => String((r as { dst: string }).dst).startsWith('10.9.')).length;
const left6 = ipJson('-6', 'route', 'show', 'table', 'all', 'dev', 'v0').filter((r) => String((r as { dst: string }).dst).startsWith('2001:db8:9')).length;
const deletedAgain = await batch([{ ...local, op: 'delete-route' }]);

const otherFamily = await refusedOrOk(() => runRtnetlinkBatch([{ ...towards, source: '2001:db8:9::1' }]));
const unreachableWithSource = await refusedOrOk(() => runRtnetlinkBatch([{ ...towards, link: null }]));

const result: RtnetlinkLocalRoutes = {
  added, local4, main4,
  getLocal: { type: hub?.type ?? 'unicast', prefsrc: hub?.prefsrc ?? null },
  getPeer: { type: peer?.type ?? 'unicast', dev: peer?.dev ?? '', prefsrc: peer?.prefsrc ?? null },
  local6: local6Routes, refused, deleted, left4, left6, deletedAgain, otherFamily, unreachableWithSource,
};
console.log(JSON.stringify(result));
