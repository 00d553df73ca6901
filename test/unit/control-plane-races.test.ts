import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { controlPlaneLab, fakeSessionClock, settle, type LabMember } from '../helpers/control-plane-lab.js';

const ALICE = '203.0.113.10';

type Config = { version: number; tunnels: WireTunnelSpec[] };
const versions = (member: LabMember): number[] => member.configs().map((config) => config.version as number);
const hubTunnel = (config: unknown): WireTunnelSpec | undefined => (config as Config).tunnels.find((spec) => spec.name === 'tnl-hub');

describe('ControlPlane on an in-memory registry: work that overlaps', () => {
  beforeEach(() => fakeSessionClock());
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a revoke landing while a reconfiguration waits on its read: the session closes, the hub end comes down, no config after', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);
    expect(lab.datapath.tunnels.has('tnl-alice')).toBe(true);

    // The reconfiguration a new report brings reads alice's row before the revoke, and its answer is slow.
    const held = lab.registry.hold('peerStanding', 'alice');
    alice.report('192.168.1.5');
    await held.reached;
    lab.registry.setRevoked('alice', true);
    const reconciled = lab.plane.reconcile();
    await settle();
    expect(alice.transport.closedWith).toBeUndefined();
    held.release();
    await reconciled;
    await settle();

    expect(alice.transport.closedWith).toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    const closedAt = alice.transport.sent.findIndex((message) => message.type === 'error');
    expect(alice.transport.sent[closedAt]).toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    expect(alice.transport.sent.slice(closedAt + 1)).toEqual([]);
    expect(lab.datapath.changes.at(-1)).toEqual({ op: 'remove', name: 'tnl-alice' });
    expect(lab.datapath.tunnels.has('tnl-alice')).toBe(false);
    // A revoked member stays in status, cut off, until it is restored or removed.
    expect(lab.plane.liveState().get('alice')).toMatchObject({ connected: false, lastError: expect.stringMatching(/^ERR_TOKEN_REVOKED/) });

    // Nothing more happens for it: another reconcile neither pushes nor touches the datapath.
    const changes = lab.datapath.changes.length;
    await lab.plane.reconcile();
    await settle();
    expect(lab.datapath.changes.length).toBe(changes);
  });

  it('a revoke that the reconfiguration reads closes the session at once, before any config or upsert', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);
    const upserts = lab.datapath.changes.length;

    const held = lab.registry.hold('claimSession', 'alice');
    const again = lab.connect('alice', '203.0.113.11');
    again.hello('203.0.113.11');
    await held.reached;
    lab.registry.setRevoked('alice', true);
    held.release();
    await settle();

    expect(alice.transport.closedWith).toMatchObject({ code: 'ERR_CLOSED' });
    expect(again.transport.closedWith).toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    expect(again.configs()).toEqual([]);
    expect(lab.datapath.changes.slice(upserts)).toEqual([{ op: 'remove', name: 'tnl-alice' }]);
    expect(lab.registry.calls.filter((call) => call.method === 'issueSpecs')).toHaveLength(1);
  });

  it('two reconfigurations of one peer run in order: the second reads nothing until the first is done, the newest wins', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    const alice = await lab.join('alice', ALICE);

    const held = lab.registry.hold('issueSpecs', 'alice');
    alice.report('192.168.1.5');
    await held.reached;
    alice.report('192.168.1.6');
    await settle();
    const standingReads = () => lab.registry.calls.filter((call) => call.method === 'peerStanding').length;
    expect(standingReads()).toBe(2);
    held.release();
    await settle();

    expect(standingReads()).toBe(3);
    expect(versions(alice)).toEqual([1, 2, 3]);
    expect(hubTunnel(alice.lastConfig())).toMatchObject({ encap: 'fou', local: '192.168.1.6' });
    expect(lab.registry.storedConfig('alice')).toMatchObject({ version: 3, reported: '192.168.1.6' });
    // The hub end aims at the seen address whatever is reported: it moved to FOU once, then stayed.
    expect(lab.datapath.upsertsOf('tnl-alice').map((spec) => [spec.encap, spec.remote])).toEqual([['gre', ALICE], ['fou', ALICE]]);
  });

  it('a reconnect during a reconfiguration: the older session gets nothing more, the newer gets the newest config, versions only grow', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    const first = await lab.join('alice', ALICE);

    const held = lab.registry.hold('linksOf', 'alice');
    first.report('192.168.1.5');
    await held.reached;
    const second = lab.connect('alice', '203.0.113.12');
    second.hello('192.168.1.5');
    held.release();
    await settle();

    expect(first.transport.closedWith).toMatchObject({ code: 'ERR_CLOSED' });
    expect(first.transport.sent.slice(first.transport.sent.findIndex((message) => message.type === 'error') + 1)).toEqual([]);
    const last = second.lastConfig()!;
    expect(second.configs()).toHaveLength(1);
    expect(last.version).toBe(lab.registry.storedConfig('alice')!.version);
    expect(last.version as number).toBeGreaterThan(1);
    const key = second.transport.sent[0]!.sessionKey as string;
    expect(hubTunnel(last)).toMatchObject({ encap: 'fou', local: '192.168.1.5', auth: { key } });
    expect(lab.datapath.tunnels.get('tnl-alice')).toMatchObject({ remote: '203.0.113.12', auth: { key } });
    const hubVersions = lab.registry.calls.filter((call) => call.method === 'recordHubApplied').length;
    expect(lab.registry.storedHubEnd('alice')).toMatchObject({ applied: lab.registry.storedHubEnd('alice')!.version });
    expect(hubVersions).toBe(lab.datapath.upsertsOf('tnl-alice').length);
  });

  it('a removed peer: its session closes with ERR_PEER_NOT_FOUND, its hub end comes down, and it leaves live state', async () => {
    const lab = controlPlaneLab();
    lab.registry.addPeer('alice');
    lab.registry.addPeer('bob');
    lab.registry.link('alice', 'bob');
    const alice = await lab.join('alice', ALICE);
    const bob = await lab.join('bob', '203.0.113.20');
    expect(bob.lastConfig()).toMatchObject({ links: [{}, {}] });

    lab.registry.removePeer('alice');
    await lab.plane.reconcile();
    await settle();

    expect(alice.transport.closedWith).toMatchObject({ code: 'ERR_PEER_NOT_FOUND' });
    expect(lab.datapath.tunnels.has('tnl-alice')).toBe(false);
    expect(lab.plane.liveState().has('alice')).toBe(false);
    expect((bob.lastConfig() as Config).tunnels.map((spec) => spec.name)).toEqual(['tnl-hub']);
  });
});
