import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HubBindingStatus } from '../../server/control/hub-datapath.js';
import { DEFAULT_SHORTCUT_OPTIONS, type ShortcutOptions } from '../../server/shortcuts/shortcut-options.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { controlPlaneLab, fakeSessionClock, settle, type ControlPlaneLab, type LabMember } from '../helpers/control-plane-lab.js';

const C1 = '203.0.113.10';
const C2 = '203.0.113.20';
/** 1 Mbit/s for 2 s, idle after 30 s. */
const OPTIONS: ShortcutOptions = { ...DEFAULT_SHORTCUT_OPTIONS, threshold: { bitsPerSecond: 1_000_000, sustainMs: 2_000 }, idleMs: 30_000 };

type Config = { version: number; tunnels: WireTunnelSpec[]; paths: { tunnel: string; encap: string; reason: string; kind?: string; why?: string }[] };
const configOf = (member: LabMember): Config => member.lastConfig() as unknown as Config;
const tunnel = (member: LabMember, name: string): WireTunnelSpec | undefined => configOf(member).tunnels.find((spec) => spec.name === name);

/** A lab with c1 and c2 joined (c2 with a LAN), shortcuts kept with `options`. */
async function mesh(options: ShortcutOptions = OPTIONS, addresses: { c1?: [string, string]; c2?: [string, string] } = {}) {
  const lab = controlPlaneLab({ shortcuts: options });
  lab.registry.addPeer('c1');
  lab.registry.addPeer('c2');
  lab.registry.approveRoute('c2', '10.50.2.0/24');
  const [c1Seen, c1Reported] = addresses.c1 ?? [C1, C1];
  const [c2Seen, c2Reported] = addresses.c2 ?? [C2, C2];
  const c1 = await lab.join('c1', c1Seen, c1Reported);
  const c2 = await lab.join('c2', c2Seen, c2Reported);
  alive.splice(0, alive.length, c1, c2);
  return { lab, c1, c2, keeper: lab.keeper! };
}

/** Members whose sessions the test keeps alive (the lab's sessions end after 3 silent seconds). */
const alive: LabMember[] = [];

/** One second of `bytes` from c1 toward lan2 counted on the hub's tnl-c1, then a keeper round. */
async function second(lab: ControlPlaneLab, bytes: number): Promise<void> {
  if (bytes > 0) lab.datapath.destinations.set('tnl-c1', [{ address: '10.50.2.10', bytes }]);
  for (const member of alive) if (!member.session.isClosed) member.session.receive(JSON.stringify({ v: 1, type: 'keepalive' }));
  vi.advanceTimersByTime(1_000);
  await lab.keeper!.wake();
  await settle();
}

/** Busy for two seconds at 2 Mbit/s: a shortcut is made. */
async function busy(lab: ControlPlaneLab): Promise<void> {
  await second(lab, 250_000);
  await second(lab, 250_000);
}

const up = (tunnelName: string, bytes = 0) => [{ tunnel: tunnelName, state: 'up' as const, rxBytes: bytes, txBytes: 0 }];

function bound(address: string, port: number): HubBindingStatus {
  return { state: 'bound', address, port, boundAt: null, lastHelloAt: null, helloInterval: 10, bindingTimeout: 60 };
}

describe('ShortcutKeeper on the in-memory registry and a real ControlPlane', () => {
  beforeEach(() => fakeSessionClock());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sees a member that joined through this hub after the keeper last read the registry', async () => {
    const lab = controlPlaneLab({ shortcuts: OPTIONS });
    lab.registry.addPeer('c1');
    const c1 = await lab.join('c1', C1, C1);
    alive.splice(0, alive.length, c1);
    await lab.keeper!.wake();
    lab.registry.addPeer('c2');
    lab.registry.approveRoute('c2', '10.50.2.0/24');
    alive.push(await lab.join('c2', C2, C2));
    await busy(lab);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toMatchObject({ why: 'rate 2 Mbit/s' });
  });

  it('an idle round (no traffic between members, no pair watched, no shortcut) does not walk the members', async () => {
    const { lab } = await mesh();
    const walks = vi.spyOn(lab.plane, 'liveState');
    for (let round = 0; round < 3; round++) await second(lab, 0);
    expect(walks).not.toHaveBeenCalled();
    // Traffic between two members wakes the full round at once.
    await second(lab, 250_000);
    expect(walks).toHaveBeenCalled();
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    await second(lab, 250_000);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toMatchObject({ why: 'rate 2 Mbit/s' });
  });

  it('makes a shortcut for a busy pair, pushes it without routes, and routes it only once both ends report it up', async () => {
    const { lab, c1, c2, keeper } = await mesh();
    await second(lab, 250_000);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    await second(lab, 250_000);
    const made = lab.registry.shortcutBetween('c1', 'c2');
    expect(made).toMatchObject({ why: 'rate 2 Mbit/s' });

    expect(tunnel(c1, 'tnl-c2')).toMatchObject({ encap: 'gre', local: C1, remote: C2 });
    expect(tunnel(c1, 'tnl-c2')!.routes).toBeUndefined();
    expect(tunnel(c2, 'tnl-c1')!.routes).toBeUndefined();
    expect(configOf(c1).paths.find((path) => path.tunnel === 'tnl-c2')).toMatchObject({ kind: 'shortcut', why: 'rate 2 Mbit/s', reachable: true });
    expect(keeper.statusOf(made!.linkId)).toMatchObject({ state: 'verifying' });

    // One end up is not enough: keepalives must be answered both ways.
    c1.linkReport(up('tnl-c2'));
    await settle();
    expect(tunnel(c1, 'tnl-c2')!.routes).toBeUndefined();
    c2.linkReport(up('tnl-c1'));
    await settle();
    expect(tunnel(c1, 'tnl-c2')).toMatchObject({ routes: ['10.50.2.0/24', '10.99.0.6/32'], routeMetric: 100 });
    expect(tunnel(c2, 'tnl-c1')).toMatchObject({ routes: ['10.99.0.2/32'], routeMetric: 100 });
    // The hub link keeps its routes: the hub stays the fallback at metric 1000.
    expect(tunnel(c1, 'tnl-hub')).toMatchObject({ routeMetric: 1000 });
    expect(tunnel(c1, 'tnl-hub')!.routes).toContain('10.50.2.0/24');
    expect(keeper.statusOf(made!.linkId)).toMatchObject({ state: 'up' });
    expect(keeper.counters()).toEqual({ made: 1, failed: {}, removed: {} });
    await lab.plane.close();
  });

  it('divides a new pair\'s first bytes by the time since the tallies were last drained, not by a whole tick', async () => {
    const { lab, keeper } = await mesh();
    await second(lab, 0);
    // A round half a second later (a report woke it): 100,000 bytes in 0.5 s are 1.6 Mbit/s, busy.
    lab.datapath.destinations.set('tnl-c1', [{ address: '10.50.2.10', bytes: 100_000 }]);
    vi.advanceTimersByTime(500);
    await keeper.wake();
    lab.datapath.destinations.set('tnl-c1', [{ address: '10.50.2.10', bytes: 125_000 }]);
    vi.advanceTimersByTime(500);
    await keeper.wake();
    await second(lab, 250_000);
    // Read as 0.8 Mbit/s over a whole second, the stretch would start half a second later and be 1.5 s long.
    expect(lab.registry.shortcutBetween('c1', 'c2')).toMatchObject({ why: 'rate 1.9 Mbit/s' });
    await lab.plane.close();
  });

  it('fails a shortcut not up within 5 s: removed, the pair kept on the hub with the reason and a backoff', async () => {
    const { lab, c1, keeper } = await mesh();
    await busy(lab);
    const made = lab.registry.shortcutBetween('c1', 'c2')!;
    c1.linkReport(up('tnl-c2'));
    for (let s = 0; s < 5; s++) await second(lab, 250_000);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    expect(tunnel(c1, 'tnl-c2')).toBeUndefined();
    expect(keeper.statusOf(made.linkId)).toBeUndefined();
    expect(keeper.failuresNow()).toMatchObject([{ ends: ['c1', 'c2'], reason: 'unanswered', failures: 1 }]);
    expect(keeper.counters()).toEqual({ made: 1, failed: { unanswered: 1 }, removed: { failed: 1 } });
    // Still busy through the hub: not tried again before its 30 s wait is over.
    for (let s = 0; s < 20; s++) await second(lab, 250_000);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    for (let s = 0; s < 10; s++) await second(lab, 250_000);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeDefined();
    await lab.plane.close();
  });

  it('through two NATs: FOU aimed at each other\'s mapping; a NAT that changed the port gives symmetric-nat', async () => {
    const { lab, c1, c2, keeper } = await mesh(OPTIONS, { c1: ['192.0.2.20', '192.168.77.2'], c2: ['192.0.2.30', '192.168.78.2'] });
    lab.datapath.bindings.set('tnl-c1', bound('192.0.2.20', 4754));
    lab.datapath.bindings.set('tnl-c2', bound('192.0.2.30', 31_337));
    await busy(lab);
    expect(tunnel(c1, 'tnl-c2')).toMatchObject({ encap: 'fou', local: '192.168.77.2', remote: '192.0.2.30', remotePort: 31_337 });
    expect(tunnel(c2, 'tnl-c1')).toMatchObject({ encap: 'fou', local: '192.168.78.2', remote: '192.0.2.20', remotePort: 4754 });
    expect(tunnel(c1, 'tnl-c2')!.auth).toBeUndefined();
    expect(configOf(c1).paths.find((path) => path.tunnel === 'tnl-c2')).toMatchObject({ reason: 'hole-punched' });
    for (let s = 0; s < 6; s++) await second(lab, 250_000);
    expect(keeper.failuresNow()).toMatchObject([{ ends: ['c1', 'c2'], reason: 'symmetric-nat' }]);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    expect(tunnel(c2, 'tnl-c1')).toBeUndefined();
    await lab.plane.close();
  });

  it('removes an idle shortcut routes first, then the link, and never an operator link', async () => {
    const { lab, c1, c2, keeper } = await mesh();
    lab.registry.addPeer('c3');
    const c3 = await lab.join('c3', '203.0.113.30');
    alive.push(c3);
    lab.registry.link('c1', 'c3');
    await lab.plane.reconcile();
    await busy(lab);
    c1.linkReport(up('tnl-c2', 1_000));
    c2.linkReport(up('tnl-c1', 1_000));
    await settle();
    expect(tunnel(c1, 'tnl-c2')!.routes).toHaveLength(2);
    const before = c1.configs().length;
    for (let s = 0; s < 31; s++) await second(lab, 0);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    const configs = c1.configs().slice(before) as unknown as Config[];
    // The config that took the routes out still had the tunnel; the next one dropped it.
    const withoutRoutes = configs.findIndex((config) => config.tunnels.some((spec) => spec.name === 'tnl-c2' && spec.routes === undefined));
    expect(withoutRoutes).toBeGreaterThanOrEqual(0);
    expect(configs.slice(withoutRoutes + 1).at(-1)!.tunnels.some((spec) => spec.name === 'tnl-c2')).toBe(false);
    expect(keeper.counters().removed).toEqual({ idle: 1 });
    expect(tunnel(c1, 'tnl-c3')).toBeDefined();
    expect(tunnel(c3, 'tnl-c1')).toBeDefined();
    await lab.plane.close();
  });

  it('a shortcut an end reports down loses its routes and goes at once; the pair waits out a backoff', async () => {
    const { lab, c1, c2, keeper } = await mesh();
    await busy(lab);
    c1.linkReport(up('tnl-c2'));
    c2.linkReport(up('tnl-c1'));
    await settle();
    c2.linkReport([{ tunnel: 'tnl-c1', state: 'down', rxBytes: 0, txBytes: 0 }]);
    await settle();
    await keeper.wake();
    await settle();
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    expect(tunnel(c1, 'tnl-c2')).toBeUndefined();
    expect(keeper.failuresNow()).toMatchObject([{ reason: 'unanswered' }]);
    expect(keeper.counters().removed).toEqual({ failed: 1 });
    await lab.plane.close();
  });

  it('an end that moved and reports its tunnel down a moment keeps the shortcut: routes out, verified again at the new address, no failure', async () => {
    const { lab, c1, c2, keeper } = await mesh();
    await busy(lab);
    c1.linkReport(up('tnl-c2'));
    c2.linkReport(up('tnl-c1'));
    await settle();
    const linkId = lab.registry.shortcutBetween('c1', 'c2')!.linkId;
    expect(tunnel(c2, 'tnl-c1')!.routes).toBeDefined();
    // c1 comes back from another address; its re-aimed tunnel is down until c2's hello reaches it.
    const moved = await lab.join('c1', '203.0.113.11');
    alive.splice(0, alive.length, moved, c2);
    expect(tunnel(c2, 'tnl-c1')).toMatchObject({ remote: '203.0.113.11' });
    moved.linkReport([{ tunnel: 'tnl-c2', state: 'down', rxBytes: 0, txBytes: 0 }]);
    await settle();
    await keeper.wake();
    await settle();
    expect(lab.registry.shortcutBetween('c1', 'c2')?.linkId).toBe(linkId);
    expect(keeper.statusOf(linkId)).toMatchObject({ state: 'verifying', failed: null });
    expect(tunnel(c2, 'tnl-c1')!.routes).toBeUndefined();
    expect(tunnel(moved, 'tnl-c2')!.routes).toBeUndefined();
    // Both ends report it up anew: routed again; nothing failed or was removed.
    moved.linkReport(up('tnl-c2'));
    c2.linkReport(up('tnl-c1'));
    await settle();
    expect(tunnel(c2, 'tnl-c1')).toMatchObject({ remote: '203.0.113.11', routeMetric: 100 });
    expect(tunnel(c2, 'tnl-c1')!.routes).toBeDefined();
    expect(keeper.statusOf(linkId)).toMatchObject({ state: 'up' });
    expect(keeper.counters()).toEqual({ made: 1, failed: {}, removed: {} });
    await lab.plane.close();
  });

  it('makes none with --shortcuts off, or for a member set off, whose existing shortcut goes', async () => {
    const off = await mesh({ ...OPTIONS, mode: 'off' });
    await busy(off.lab);
    await busy(off.lab);
    expect(off.lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    await off.lab.plane.close();

    const { lab, c1 } = await mesh();
    await busy(lab);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeDefined();
    lab.registry.setShortcuts('c2', false);
    lab.keeper!.registryChanged();
    await second(lab, 250_000);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    expect(tunnel(c1, 'tnl-c2')).toBeUndefined();
    for (let s = 0; s < 3; s++) await second(lab, 250_000);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    expect(lab.keeper!.counters().removed).toEqual({ disabled: 1 });
    await lab.plane.close();
  });

  it('a revoked member takes its shortcuts with it', async () => {
    const { lab, c1 } = await mesh();
    await busy(lab);
    lab.registry.setRevoked('c2', true);
    lab.keeper!.registryChanged();
    await lab.plane.reconcile();
    await second(lab, 0);
    expect(lab.registry.shortcutBetween('c1', 'c2')).toBeUndefined();
    expect(tunnel(c1, 'tnl-c2')).toBeUndefined();
    expect(lab.keeper!.counters().removed).toEqual({ 'member-revoked': 1 });
    await lab.plane.close();
  });

  it('a router reporting over a shell (a rendered kernel config) gets no shortcut', async () => {
    const lab = controlPlaneLab({ shortcuts: OPTIONS });
    lab.registry.addPeer('c1');
    lab.registry.addPeer('r2');
    alive.splice(0, alive.length, await lab.join('c1', C1));
    await lab.plane.reportFromShell('r2', C2);
    lab.datapath.destinations.set('tnl-c1', [{ address: '10.99.0.6', bytes: 250_000 }]);
    await second(lab, 0);
    for (let s = 0; s < 3; s++) {
      lab.datapath.destinations.set('tnl-c1', [{ address: '10.99.0.6', bytes: 250_000 }]);
      await second(lab, 0);
    }
    expect(lab.registry.shortcutBetween('c1', 'r2')).toBeUndefined();
    await lab.plane.close();
  });

  it('ignores reports of tunnels that are no shortcut, and a malformed report closes that session alone', async () => {
    const { lab, c1, c2, keeper } = await mesh();
    await busy(lab);
    const linkId = lab.registry.shortcutBetween('c1', 'c2')!.linkId;
    c1.linkReport(up('tnl-hub'));
    c1.linkReport(up('tnl-zz'));
    await settle();
    expect(keeper.statusOf(linkId)).toMatchObject({ state: 'verifying' });
    c2.session.receive(JSON.stringify({ v: 1, type: 'link-report', links: [{ tunnel: 'tnl-c1', state: 'sideways', rxBytes: 0, txBytes: 0 }] }));
    await settle();
    expect(c2.transport.closedWith).toMatchObject({ code: 'ERR_PROTOCOL' });
    expect(c1.transport.closedWith).toBeUndefined();
    expect(keeper.statusOf(linkId)).toMatchObject({ state: 'verifying' });
    await lab.plane.close();
  });
});
