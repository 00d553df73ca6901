import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { welcomeHoldMs } from '../../server/control/control-session.js';
import { tickMsFor } from '../../server/control/session-keepalives.js';
import { LAB_TIMING, controlPlaneLab, fakeSessionClock, settle, type LabMember } from '../helpers/control-plane-lab.js';

const HUB = '198.51.100.1';
const ALICE = '203.0.113.10';
const BOB = '203.0.113.20';

type Config = { version: number; tunnels: WireTunnelSpec[]; paths: { tunnel: string; encap: string; reason: string }[] };
const configOf = (member: LabMember): Config => member.lastConfig() as unknown as Config;
const tunnel = (member: LabMember, name: string): WireTunnelSpec | undefined => configOf(member).tunnels.find((spec) => spec.name === name);

describe('ControlPlane on an in-memory registry: sessions and reconfiguration', () => {
  beforeEach(() => fakeSessionClock());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('join: welcome, the hub end up first at the seen address, config v1 pushed, its ack recorded', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);

    expect(alice.transport.sent.map((message) => message.type)).toEqual(['welcome', 'config']);
    expect(alice.transport.sent[0]).toMatchObject({ peer: 'alice', seen: ALICE, keepaliveMs: LAB_TIMING.keepaliveMs });
    expect(lab.datapath.changes).toHaveLength(1);
    expect(lab.datapath.tunnels.get('tnl-alice')).toMatchObject({ encap: 'gre', local: HUB, remote: ALICE, address: '10.99.0.1/30', peerAddress: '10.99.0.2' });
    expect(configOf(alice)).toMatchObject({ version: 1, paths: [{ tunnel: 'tnl-hub', encap: 'gre', reason: 'public', reachable: true }] });
    expect(tunnel(alice, 'tnl-hub')).toMatchObject({ encap: 'gre', local: ALICE, remote: HUB, address: '10.99.0.2/30' });
    expect(lab.registry.storedHubEnd('alice')).toMatchObject({ version: 1, applied: 1 });
    expect(lab.registry.storedConfig('alice')).toMatchObject({ version: 1, acked: 0, reported: ALICE });
    expect(lab.registry.endpointHistory('alice')).toEqual([ALICE]);
    expect(lab.registry.recordedPath(lab.registry.hubLinkId('alice'))).toEqual({ encap: 'gre', reason: 'public' });
    expect(lab.plane.liveState().get('alice')).toMatchObject({ connected: true, auth: 'client-key', seen: ALICE, encap: 'gre', encapReason: 'public' });

    alice.ack(1);
    await settle();
    expect(lab.registry.storedConfig('alice')).toMatchObject({ version: 1, acked: 1 });
    await lab.plane.close();
  });

  it('the welcome leaves with the first config in one write, or alone once the hold is over when the config is late', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    lab.registry.addPeer('bob');
    const alice = await lab.join('alice', ALICE);
    expect(alice.transport.sent.map((message) => message.type)).toEqual(['welcome', 'config']);
    expect(alice.transport.writes).toEqual([2]);

    const held = lab.registry.hold('linksOf', 'bob');
    const bob = lab.connect('bob', BOB);
    bob.hello(BOB);
    await held.reached;
    expect(bob.transport.sent).toEqual([]);
    // At most a tick after the hold: alone, and the session runs on as before.
    vi.advanceTimersByTime(welcomeHoldMs(LAB_TIMING.keepaliveMs) + tickMsFor(LAB_TIMING.keepaliveMs));
    expect(bob.transport.sent.map((message) => message.type)).toEqual(['welcome']);
    held.release();
    await settle();
    expect(bob.transport.sent.map((message) => message.type)).toEqual(['welcome', 'config']);
    expect(bob.transport.writes).toEqual([1, 1]);
    bob.ack(1);
    await settle();
    expect(lab.registry.storedConfig('bob')).toMatchObject({ version: 1, acked: 1 });
    await lab.plane.close();
  });

  it('join behind a NAT: FOU with the session key in the pushed specs and only its digest in the registry', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE, '192.168.1.5');
    const key = alice.transport.sent[0]!.sessionKey as string;

    expect(tunnel(alice, 'tnl-hub')).toMatchObject({ encap: 'fou', local: '192.168.1.5', remote: HUB, auth: { key, role: 'member' } });
    expect(lab.datapath.tunnels.get('tnl-alice')).toMatchObject({ encap: 'fou', remote: ALICE, auth: { key, role: 'hub' } });
    expect(configOf(alice).paths[0]).toMatchObject({ encap: 'fou', reason: 'nat-detected' });
    const stored = JSON.stringify([lab.registry.storedConfig('alice'), lab.registry.storedHubEnd('alice')]);
    expect(stored).toContain('"role":"member"');
    expect(stored).not.toContain(key);
    await lab.plane.close();
  });

  it('logs one info line per session start: a move on the same encapsulation gives "link reconfigured" at debug only', async () => {
    const lines: { level: number; msg: string; peer?: string; remote?: string }[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const info = (): string[] => lines.filter((line) => line.level === pino.levels.values.info).map((line) => line.msg);
    const debugReconfigured = () => lines.filter((line) => line.level === pino.levels.values.debug && line.msg === 'link reconfigured');
    const lab = controlPlaneLab({ log });
    lab.registry.addPeer('alice');
    await lab.join('alice', ALICE);
    // The first config chose the encapsulation: said at info.
    expect(info()).toEqual(['session established', 'link reconfigured']);

    lines.length = 0;
    const moved = lab.connect('alice', '203.0.113.99');
    moved.hello('203.0.113.99');
    await settle();
    expect(configOf(moved).version).toBe(2);
    expect(info()).toEqual(['session established']);
    expect(debugReconfigured()).toMatchObject([{ peer: 'alice', remote: '203.0.113.99' }]);

    // A change on a session that has its config already is said at info, as before.
    lines.length = 0;
    moved.report('192.0.2.77');
    await settle();
    expect(configOf(moved).version).toBe(3);
    expect(info()).toEqual(['link reconfigured']);
    await lab.plane.close();
  });

  it('move: a new seen address gives new versions, and the member linked to it is reconfigured toward it', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    lab.registry.addPeer('bob');
    lab.registry.link('alice', 'bob');
    const alice = await lab.join('alice', ALICE);
    const bob = await lab.join('bob', BOB);
    expect(tunnel(bob, 'tnl-alice')).toMatchObject({ encap: 'gre', remote: ALICE, local: BOB });
    const before = { alice: lab.registry.storedConfig('alice')!.version, bob: lab.registry.storedConfig('bob')!.version, hub: lab.registry.storedHubEnd('alice')!.version };

    const moved = lab.connect('alice', '203.0.113.99');
    moved.hello('203.0.113.99');
    await settle();

    expect(alice.transport.closedWith).toMatchObject({ code: 'ERR_CLOSED' });
    expect(lab.datapath.tunnels.get('tnl-alice')).toMatchObject({ remote: '203.0.113.99' });
    expect(lab.registry.storedHubEnd('alice')!.version).toBe(before.hub + 1);
    expect(configOf(moved).version).toBe(before.alice + 1);
    expect(tunnel(moved, 'tnl-bob')).toMatchObject({ local: '203.0.113.99', remote: BOB });
    expect(configOf(bob).version).toBe(before.bob + 1);
    expect(tunnel(bob, 'tnl-alice')).toMatchObject({ remote: '203.0.113.99', local: BOB });
    expect(lab.registry.endpointHistory('alice')).toEqual([ALICE, '203.0.113.99']);

    // A new reported address: alice is behind a NAT now, so the link to bob runs FOU with alice opening it.
    moved.report('192.168.7.7');
    await settle();
    expect(tunnel(moved, 'tnl-hub')).toMatchObject({ encap: 'fou', local: '192.168.7.7' });
    expect(tunnel(moved, 'tnl-bob')).toMatchObject({ encap: 'fou', local: '192.168.7.7', auth: { role: 'member' } });
    expect(tunnel(bob, 'tnl-alice')).toMatchObject({ encap: 'fou', remote: '203.0.113.99', auth: { role: 'hub' } });
    expect(tunnel(bob, 'tnl-alice')!.auth!.key).toBe(tunnel(moved, 'tnl-bob')!.auth!.key);
    expect(configOf(bob).version).toBe(before.bob + 2);
    await lab.plane.close();
  });

  it('a pin reaches the running member and its linked member at the next reconcile, and unpinning brings the automatic choice back', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    lab.registry.addPeer('bob');
    const linkId = lab.registry.link('alice', 'bob');
    const alice = await lab.join('alice', ALICE);
    const bob = await lab.join('bob', BOB);

    lab.registry.pin('alice', 'gue');
    await lab.plane.reconcile();
    await settle();
    expect(lab.datapath.tunnels.get('tnl-alice')).toMatchObject({ encap: 'gue', remote: ALICE, auth: { role: 'hub' } });
    expect(lab.datapath.tunnels.get('tnl-alice')).not.toHaveProperty('key');
    expect(configOf(alice).paths).toEqual([
      { tunnel: 'tnl-hub', encap: 'gue', reason: 'pinned', reachable: true },
      { tunnel: 'tnl-bob', encap: 'gue', reason: 'pinned', reachable: true },
    ]);
    expect(tunnel(bob, 'tnl-alice')).toMatchObject({ encap: 'gue' });
    expect(lab.registry.recordedPath(lab.registry.hubLinkId('alice'))).toEqual({ encap: 'gue', reason: 'pinned' });
    expect(lab.registry.recordedPath(linkId)).toEqual({ encap: 'gue', reason: 'pinned' });
    expect(lab.plane.liveState().get('alice')).toMatchObject({ encap: 'gue', encapReason: 'pinned' });

    lab.registry.pin('alice', null);
    await lab.plane.reconcile();
    await settle();
    expect(lab.datapath.tunnels.get('tnl-alice')).toMatchObject({ encap: 'gre', key: expect.any(Number), mtu: 1472 });
    expect(tunnel(bob, 'tnl-alice')).toMatchObject({ encap: 'gre' });
    expect(lab.registry.recordedPath(linkId)).toEqual({ encap: 'gre', reason: 'public' });
    await lab.plane.close();
  });

  it('a claim by another hub of the cluster closes the session, takes the hub end down and forgets the member', async () => {
    const lab = controlPlaneLab({ registry: { hubName: 'hub-a' } });
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);
    expect(configOf(alice)).toMatchObject({ version: 1, cluster: { hub: 'hub-a' } });

    lab.registry.claimFor('hub-b', 'alice');
    await lab.plane.reconcile();
    await settle();

    expect(alice.transport.closedWith).toMatchObject({ code: 'ERR_CLOSED', message: expect.stringContaining('hub-b') });
    expect(alice.transport.sent.at(-1)).toMatchObject({ type: 'error', code: 'ERR_CLOSED' });
    expect(alice.configs()).toHaveLength(1);
    expect(lab.datapath.changes.at(-1)).toEqual({ op: 'remove', name: 'tnl-alice' });
    expect(lab.plane.liveState().has('alice')).toBe(false);
    await lab.plane.close();
  });

  it('a route change: reconcile pushes the new routes; a reconcile with nothing changed issues and pushes nothing', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    lab.registry.addPeer('bob');
    const alice = await lab.join('alice', ALICE);
    const bob = await lab.join('bob', BOB);
    expect(tunnel(alice, 'tnl-hub')!.routes).toEqual(['10.99.0.0/16']);

    lab.registry.approveRoute('bob', '10.50.2.0/24');
    await lab.plane.reconcile();
    await settle();
    expect(configOf(alice).version).toBe(2);
    expect(tunnel(alice, 'tnl-hub')!.routes).toEqual(['10.50.2.0/24', '10.99.0.0/16']);
    expect(tunnel(bob, 'tnl-hub')!.routes).toEqual(['10.99.0.0/16']);
    expect(lab.datapath.tunnels.get('tnl-bob')!.routes).toContain('10.50.2.0/24');
    expect(lab.datapath.tunnels.get('tnl-bob')!.sources).toContain('10.50.2.0/24');
    expect(lab.datapath.unreachable).toEqual(['10.50.2.0/24', '10.99.0.0/16']);
    // alice's hub end routes nothing new: its spec, and so its version, stayed.
    expect(lab.registry.storedHubEnd('alice')).toMatchObject({ version: 1, applied: 1 });

    const upserts = lab.datapath.changes.length;
    const pushed = alice.configs().length + bob.configs().length;
    const calls = lab.registry.calls.length;
    await lab.plane.reconcile();
    await settle();
    expect(lab.datapath.changes.length).toBe(upserts);
    expect(alice.configs().length + bob.configs().length).toBe(pushed);
    const writes = lab.registry.calls.slice(calls).map((call) => call.method).filter((method) => method.startsWith('record'));
    expect(writes).toEqual([]);
    expect([lab.registry.storedConfig('alice')!.version, lab.registry.storedConfig('bob')!.version]).toEqual([2, 2]);
    await lab.plane.close();
  });

  it('a member advertising an overlapping prefix is told it was refused, and nothing is stored for it', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    const alice = lab.connect('alice', ALICE);
    alice.hello(ALICE, ['10.60.0.0/24', '10.99.4.0/24']);
    await settle();
    expect(lab.registry.routes('alice')).toEqual({ '10.60.0.0/24': 'pending' });
    expect((alice.lastConfig() as { advertised: unknown[] }).advertised).toEqual([
      { prefix: '10.60.0.0/24', state: 'pending' },
      { prefix: '10.99.4.0/24', state: 'refused', code: 'ERR_ROUTE_OVERLAP', message: expect.stringContaining('pool') },
    ]);
    await lab.plane.close();
  });

  it('reads the peer row once per reconfiguration, and what every member shares once per registry change', async () => {
    const lab = controlPlaneLab();
    const names = ['m1', 'm2', 'm3', 'm4', 'm5'];
    for (const name of names) lab.registry.addPeer(name);
    await lab.plane.reconcile();
    for (const [i, name] of names.entries()) await lab.join(name, `203.0.113.${30 + i}`);
    const count = (method: string) => lab.registry.calls.filter((call) => call.method === method).length;
    expect(count('peerStanding')).toBe(5);
    expect([count('hubEndpoint'), count('routingFacts'), count('clusterView')]).toEqual([1, 1, 1]);
    // Per member: its row, whether another hub serves it (not asked right after its own claim), its links (hub link and peer links in one read), routing record.
    expect(count('linksOf')).toBe(5);
    expect(lab.registry.readCount()).toBe(5 * 3 + 3);
    await lab.plane.close();
  });

  it('session timing: keepalives every interval, a silent member is closed after the liveness timeout, its hub end stays', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);
    const started = Date.now();
    // The hub's session clock turns once a tick: keepalives and timeouts come at most a tick late.
    const tick = tickMsFor(LAB_TIMING.keepaliveMs);

    vi.advanceTimersByTime(LAB_TIMING.keepaliveMs * 2 + tick);
    expect(alice.transport.messages('keepalive')).toHaveLength(2);
    expect(alice.transport.closedWith).toBeUndefined();

    vi.advanceTimersByTime(LAB_TIMING.livenessMs - LAB_TIMING.keepaliveMs * 2 - 2 * tick);
    expect(alice.transport.closedWith).toBeUndefined();
    vi.advanceTimersByTime(2 * tick);
    expect(alice.transport.closedWith).toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(lab.plane.liveState().get('alice')).toMatchObject({ connected: false, lastSeen: started, lastError: expect.stringMatching(/^ERR_TIMEOUT/) });
    expect(lab.datapath.tunnels.has('tnl-alice')).toBe(true);

    // It comes back from the same address: same specs, so no new version, but its new session gets the config.
    const again = await lab.join('alice', ALICE);
    expect(configOf(again).version).toBe(1);
    expect(lab.datapath.changes).toHaveLength(1);
    await lab.plane.close();
  });

  it('session timing: any message from a member keeps it alive, and the keepalives of every session share one timer', async () => {
    const lab = controlPlaneLab();
    const names = ['alice', 'bob', 'carol'];
    for (const name of names) lab.registry.addPeer(name);
    const timersBefore = vi.getTimerCount();
    const members = await Promise.all(names.map((name, index) => lab.join(name, `203.0.113.${10 + index}`)));
    expect(vi.getTimerCount()).toBe(timersBefore + 1);

    // alice speaks every half liveness timeout; the silent ones are closed, she is not.
    const tick = tickMsFor(LAB_TIMING.keepaliveMs);
    for (let elapsed = 0; elapsed < LAB_TIMING.livenessMs * 3; elapsed += LAB_TIMING.livenessMs / 2) {
      vi.advanceTimersByTime(LAB_TIMING.livenessMs / 2);
      members[0]!.report(ALICE);
    }
    vi.advanceTimersByTime(tick);
    expect(members[0]!.transport.closedWith).toBeUndefined();
    expect(members[0]!.transport.messages('keepalive').length).toBeGreaterThanOrEqual(8);
    for (const silent of members.slice(1)) expect(silent.transport.closedWith).toMatchObject({ code: 'ERR_TIMEOUT' });
    await lab.plane.close();
    expect(vi.getTimerCount()).toBe(timersBefore);
  });
});
