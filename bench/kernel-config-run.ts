/**
 * One run of bench/kernel-config.ts, inside its own namespace: makes N persistent TUN devices
 * (`ip -batch`, not measured), then configures each as the hub does for a joining member (MTU,
 * point-to-point /30, up, forwarding, one route) through one implementation of the kernel
 * configuration seam, one way, and reports the time and how long the event loop stood still.
 *   kernel-config-run ip|rtnetlink per-change|per-member|all-at-once MEMBERS
 * per-change: await apply of one change at a time (what the engine did before its changes were
 * batched); per-member: await apply of the member's five changes, one member after the other;
 * all-at-once: one apply of every change. Prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createIpKernelNetworkConfig } from '../shared/system/ip-kernel-network-config.js';
import type { KernelChange, KernelOutcome } from '../shared/system/kernel-change.js';
import type { KernelNetworkConfig } from '../shared/system/kernel-network-config.js';
import { createRtnetlinkKernelNetworkConfig } from '../shared/system/rtnetlink-kernel-network-config.js';

const MODES = ['per-change', 'per-member', 'all-at-once'] as const;
type Mode = (typeof MODES)[number];

/** The changes the hub makes for member `i` on its TUN. */
function memberChanges(i: number): KernelChange[] {
  const link = deviceName(i);
  const base = `10.${64 + (i >> 14)}.${(i >> 6) & 255}.${(i & 63) * 4}`;
  const [a, b, c, d] = base.split('.').map(Number) as [number, number, number, number];
  return [
    { kind: 'set-mtu', link, mtu: 1476 },
    { kind: 'add-address', link, cidr: `${a}.${b}.${c}.${d + 1}/30`, peer: `${a}.${b}.${c}.${d + 2}` },
    { kind: 'set-up', link, up: true },
    { kind: 'enable-forwarding', link },
    { kind: 'replace-route', route: { prefix: `172.${16 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) * 16}/28`, link, metric: 1000 } },
  ];
}

function deviceName(i: number): string {
  return `bk${String(i).padStart(5, '0')}`;
}

/** Watches the event loop with a 1 ms timer: its longest gap, and the time lost beyond 1 ms per tick. */
function watchEventLoop(): () => { longestStallMs: number; stalledMs: number; ticks: number } {
  let last = performance.now();
  let longest = 0;
  let stalled = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const gap = now - last;
    last = now;
    ticks++;
    longest = Math.max(longest, gap);
    stalled += Math.max(0, gap - 1);
  }, 1);
  return () => {
    clearInterval(timer);
    const gap = performance.now() - last;
    return { longestStallMs: Math.max(longest, gap), stalledMs: stalled + Math.max(0, gap - 1), ticks };
  };
}

async function run(config: KernelNetworkConfig, mode: Mode, members: number): Promise<KernelOutcome[]> {
  const all = Array.from({ length: members }, (_, i) => memberChanges(i));
  if (mode === 'all-at-once') return config.apply(all.flat());
  const outcomes: KernelOutcome[] = [];
  for (const changes of all) {
    if (mode === 'per-member') outcomes.push(...(await config.apply(changes)));
    else for (const change of changes) outcomes.push(...(await config.apply([change])));
  }
  return outcomes;
}

async function main(): Promise<void> {
  const [implementation, mode, membersText] = process.argv.slice(2);
  const members = Number(membersText);
  if ((implementation !== 'ip' && implementation !== 'rtnetlink') || !MODES.includes(mode as Mode) || !Number.isInteger(members) || members < 1) {
    throw new Error('usage: kernel-config-run ip|rtnetlink per-change|per-member|all-at-once MEMBERS');
  }
  const lines = Array.from({ length: members }, (_, i) => `tuntap add mode tun name ${deviceName(i)}`);
  execFileSync('ip', ['-batch', '-'], { input: `${lines.join('\n')}\n` });
  const config = implementation === 'ip' ? createIpKernelNetworkConfig() : createRtnetlinkKernelNetworkConfig();
  const stop = watchEventLoop();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const outcomes = await run(config, mode as Mode, members);
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const loop = stop();
  const refused = outcomes.filter((outcome) => !outcome.ok);
  // What the kernel holds afterwards, so the figures stand for work that was done.
  const routes = (JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'metric', '1000'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as unknown[]).length;
  const last = deviceName(members - 1);
  const lastUp = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', last], { encoding: 'utf8' })) as { flags: string[]; mtu: number }[])[0]!;
  console.log(JSON.stringify({
    implementation, mode, members, changes: outcomes.length, refused: refused.length,
    firstRefusal: refused[0] && !refused[0].ok ? refused[0].error.message : null,
    elapsedMs: Math.round(elapsedMs), usPerChange: Math.round((elapsedMs * 1000) / outcomes.length),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    longestStallMs: Math.round(loop.longestStallMs * 10) / 10, stalledMs: Math.round(loop.stalledMs), timerTicks: loop.ticks,
    verified: { routes, lastMtu: lastUp.mtu, lastUp: lastUp.flags.includes('UP'), lastForwarding: readFileSync(`/proc/sys/net/ipv4/conf/${last}/forwarding`, 'utf8').trim() === '1' },
  }));
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exitCode = 1;
});
