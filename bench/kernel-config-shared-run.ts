/**
 * One run of bench/kernel-config.ts --shared-device, inside its own namespace: puts N members'
 * inner /30s on one TUN device (the hub's shared member device) through rtnetlink in one apply,
 * one of two ways, then deletes the device, and reports both times.
 *   kernel-config-shared-run addresses|routes MEMBERS
 * addresses: each /30 as an address with its peer (`ip addr add HUB peer MEMBER/30`);
 * routes: a local route for the hub's end in table local and a route to the /30 with the hub's
 * end as its source (`ip route add local HUB dev D table local`, `ip route add NET/30 dev D src HUB`).
 * Prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { KernelChange } from '../shared/system/kernel-change.js';
import { createRtnetlinkKernelNetworkConfig } from '../shared/system/rtnetlink-kernel-network-config.js';

const WAYS = ['addresses', 'routes'] as const;
type Way = (typeof WAYS)[number];
const DEVICE = 'bkshared';

/** Member `i`'s /30: its network, the hub's end (.1) and the member's (.2), as the bench's other runs number them. */
function memberSubnet(i: number): { network: string; hub: string; member: string } {
  const a = 64 + (i >> 14);
  const b = (i >> 6) & 255;
  const c = (i & 63) * 4;
  return { network: `10.${a}.${b}.${c}/30`, hub: `10.${a}.${b}.${c + 1}`, member: `10.${a}.${b}.${c + 2}` };
}

function memberChanges(way: Way, i: number): KernelChange[] {
  const { network, hub, member } = memberSubnet(i);
  if (way === 'addresses') return [{ kind: 'add-address', link: DEVICE, cidr: `${hub}/30`, peer: member }];
  return [
    { kind: 'replace-route', route: { prefix: `${hub}/32`, link: DEVICE, metric: 0, local: true } },
    { kind: 'replace-route', route: { prefix: network, link: DEVICE, metric: 0, source: hub } },
  ];
}

/** Routes on the device in every table (what the kernel holds afterwards, so the figures stand for work done). */
function routesOnDevice(): number {
  return (JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all', 'dev', DEVICE], { encoding: 'utf8', maxBuffer: 256 << 20 }) || '[]') as unknown[]).length;
}

async function main(): Promise<void> {
  const [way, membersText] = process.argv.slice(2);
  const members = Number(membersText);
  if (!WAYS.includes(way as Way) || !Number.isInteger(members) || members < 1) throw new Error('usage: kernel-config-shared-run addresses|routes MEMBERS');
  execFileSync('ip', ['tuntap', 'add', 'mode', 'tun', 'name', DEVICE]);
  execFileSync('ip', ['link', 'set', DEVICE, 'up']);
  const config = createRtnetlinkKernelNetworkConfig();
  const changes = Array.from({ length: members }, (_, i) => memberChanges(way as Way, i)).flat();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const outcomes = await config.apply(changes);
  const addMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const refused = outcomes.filter((outcome) => !outcome.ok);
  const routes = routesOnDevice();
  const deleting = performance.now();
  const [deleted] = await config.apply([{ kind: 'delete-link', link: DEVICE }]);
  const deleteMs = performance.now() - deleting;
  console.log(JSON.stringify({
    way, members, changes: changes.length, refused: refused.length,
    firstRefusal: refused[0] && !refused[0].ok ? refused[0].error.message : null,
    addMs: Math.round(addMs), usPerMember: Math.round((addMs * 1000) / members), cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    routes, deleteMs: Math.round(deleteMs), deleted: deleted?.ok === true,
  }));
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exitCode = 1;
});
