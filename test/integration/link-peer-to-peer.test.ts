import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSshPublicKey } from '../../server/auth/ssh-public-key.js';
import { runHubCli } from '../helpers/hub-cli.js';
import { ProtocolMember as Member } from '../helpers/protocol-member.js';
import { waitUntil } from '../helpers/wait-until.js';
import { withHub, type TestHub } from '../helpers/with-hub.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';

describe('peer<->peer links and NAT fallback through the control plane', () => {
  let hub: TestHub;
  const keys = new Map<string, string>();
  let a: Member;
  let b: Member;

  beforeAll(async () => {
    hub = await withHub({ timing: { keepaliveMs: 60_000, livenessMs: 120_000 } });
    for (const name of ['ann', 'bob']) {
      const pair = generateEd25519KeyPair('test');
      keys.set(name, pair.private);
      await hub.hub.registry.peers.add({ name, sshKey: parseSshPublicKey(pair.public) });
    }
    a = await Member.connect(hub, 'ann', keys.get('ann')!, '127.0.0.1');
    b = await Member.connect(hub, 'bob', keys.get('bob')!, '127.0.0.1');
  });

  afterAll(async () => {
    a?.client.close();
    b?.client.close();
    await hub?.close();
  });

  it('starts both members on GRE with the reason in the config and in status', async () => {
    for (const member of [a, b]) {
      const [config] = member.configs;
      expect(config?.tunnels).toHaveLength(1);
      expect(config?.paths).toEqual([{ tunnel: 'tnl-hub', encap: 'gre', reason: 'public', reachable: true }]);
    }
    const status = await hub.hub.status();
    expect(status.peers.map((p) => [p.name, p.encap, p.encapReason, p.keepaliveInterval])).toEqual([
      ['ann', 'gre', 'public', 10], ['bob', 'gre', 'public', 10],
    ]);
  });

  it('`link add` while the hub runs gives both connected members a mirrored tunnel in a new versioned spec', async () => {
    const versions = [a.configs.at(-1)!.version, b.configs.at(-1)!.version];
    const added = await runHubCli(hub.stateDir, ['link', 'add', 'ann', 'bob']);
    expect(added.code, added.stderr).toBe(0);
    const [atA, atB] = await Promise.all([
      a.configWhere((c) => c.tunnels.length === 2), b.configWhere((c) => c.tunnels.length === 2),
    ]);
    expect(atA.version).toBeGreaterThan(versions[0]!);
    expect(atB.version).toBeGreaterThan(versions[1]!);
    const link = atA.links[1]!;
    const [innerA, innerB] = [link.ends[0]!.inner, link.ends[1]!.inner];
    expect(a.tunnel(atA, 'tnl-bob')).toMatchObject({ encap: 'gre', remote: '127.0.0.1', address: `${innerA}/30`, peerAddress: innerB, keepaliveInterval: 10 });
    expect(b.tunnel(atB, 'tnl-ann')).toMatchObject({ encap: 'gre', remote: '127.0.0.1', address: `${innerB}/30`, peerAddress: innerA });
    expect(a.tunnel(atA, 'tnl-bob')?.key).toBe(b.tunnel(atB, 'tnl-ann')?.key);
    expect(atB.links[1]).toEqual(link);
    expect(atA.paths[1]).toEqual({ tunnel: 'tnl-bob', encap: 'gre', reason: 'public', reachable: true });
    expect((await hub.hub.status()).links).toEqual([{ ends: ['ann', 'bob'], prefix: link.prefix, encap: 'gre', reason: 'public', reachable: true, public: ['127.0.0.1', '127.0.0.1'], kind: 'operator', why: null, shortcut: null }]);
  });

  it("an endpoint change of one end is pushed to the other: bob behind NAT -> FOU, bob says hello, ann binds", async () => {
    b.client.send(JSON.stringify({ v: 1, type: 'report', endpoint: { address: '192.168.77.2' } }));
    const atB = await b.configWhere((c) => c.paths[0]?.reason === 'nat-detected');
    const atA = await a.configWhere((c) => c.paths[1]?.reason === 'nat-detected');
    expect(b.tunnel(atB, 'tnl-hub')).toMatchObject({ encap: 'fou', local: '192.168.77.2', remote: '198.51.100.1', auth: { role: 'member' } });
    expect(hub.datapath.tunnels.get('tnl-bob')).toMatchObject({ encap: 'fou', remote: '127.0.0.1', auth: { role: 'hub' } });
    expect((b.tunnel(atB, 'tnl-hub')?.auth as { key: string }).key).toBe((hub.datapath.tunnels.get('tnl-bob')?.auth as { key: string }).key);
    const bSide = b.tunnel(atB, 'tnl-ann') as { auth: { key: string; bindingId: number; role: string }; encap: string; local: string };
    const aSide = a.tunnel(atA, 'tnl-bob') as { auth: { key: string; bindingId: number; role: string }; encap: string; remote: string; key?: number };
    expect([aSide.encap, bSide.encap]).toEqual(['fou', 'fou']);
    expect(bSide.local).toBe('192.168.77.2');
    expect(aSide.remote).toBe('127.0.0.1');
    expect([aSide.auth.role, bSide.auth.role]).toEqual(['hub', 'member']);
    expect(aSide.auth.key).toBe(bSide.auth.key);
    expect(aSide.auth.bindingId).toBe(bSide.auth.bindingId);
    expect(aSide.key).toBeUndefined();
    const status = (await hub.hub.status()).peers.find((p) => p.name === 'bob');
    expect(status).toMatchObject({ encap: 'fou', encapReason: 'nat-detected', nat: true });
  });

  it('keys never reach the registry: stored specs carry a digest only', async () => {
    const dump = JSON.stringify(await hub.hub.registry.exportTables());
    const key = (hub.datapath.tunnels.get('tnl-bob')?.auth as { key: string }).key;
    expect(dump).not.toContain(key);
  });

  it('with both ends behind NAT the link says why and no tunnel is issued', async () => {
    a.client.send(JSON.stringify({ v: 1, type: 'report', endpoint: { address: '10.20.0.5' } }));
    const atA = await a.configWhere((c) => c.paths[1]?.reason === 'both-ends-behind-nat');
    expect(atA.paths[1]).toMatchObject({ tunnel: 'tnl-bob', reachable: false });
    expect(a.tunnel(atA, 'tnl-bob')).toBeUndefined();
    const atB = await b.configWhere((c) => c.paths[1]?.reason === 'both-ends-behind-nat');
    expect(b.tunnel(atB, 'tnl-ann')).toBeUndefined();
    expect((await hub.hub.status()).links[0]).toMatchObject({ reason: 'both-ends-behind-nat', reachable: false });
    const text = await runHubCli(hub.stateDir, ['status']);
    expect(text.stdout).toMatch(/ann <-> bob .* both-ends-behind-nat \(no tunnel\)/);
    a.client.send(JSON.stringify({ v: 1, type: 'report', endpoint: { address: '127.0.0.1' } }));
    await a.configWhere((c) => c.paths[1]?.reason === 'nat-detected');
  });

  it('unanswered probes walk the ladder GRE -> FOU -> GUE; stale probes change nothing', async () => {
    expect((await hub.hub.status()).peers.find((p) => p.name === 'ann')).toMatchObject({ encap: 'gre' });
    const probe = (encap: string, answered: boolean): void => a.client.send(JSON.stringify({ v: 1, type: 'probe', tunnel: 'tnl-hub', encap, answered }));
    probe('gre', false);
    const fou = await a.configWhere((c) => c.paths[0]?.encap === 'fou');
    expect(fou.paths[0]).toMatchObject({ reason: 'gre-probe-unanswered' });
    // ann acknowledged that config as it took it; the snapshot starts once the hub recorded the ack.
    const annLink = (await hub.hub.registry.links.hubLinkOf('ann')).id;
    await waitUntil(async () => (await hub.hub.registry.specs.versions('ann', annLink))?.peer.acked === fou.version, 5_000, "ann's ack");
    const before = await hub.hub.registry.exportTables();
    probe('gue', false); // not what ann runs: stale
    probe('fou', true); // answered: nothing to change
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a change that must not come
    expect((await hub.hub.registry.exportTables()).tables.peer_configs).toEqual(before.tables.peer_configs);
    probe('fou', false);
    const gue = await a.configWhere((c) => c.paths[0]?.encap === 'gue');
    expect(gue.paths[0]).toMatchObject({ reason: 'fou-unanswered' });
    expect(a.tunnel(gue, 'tnl-hub')).toMatchObject({ encap: 'gue', auth: { role: 'member' } });
    expect((await hub.hub.status()).peers.find((p) => p.name === 'ann')).toMatchObject({ encap: 'gue', encapReason: 'fou-unanswered' });
  });

  it('`peer pin` takes effect live, `auto` hands the choice back, bad values are refused changing nothing', async () => {
    const pinned = await runHubCli(hub.stateDir, ['peer', 'pin', 'bob', '--encap', 'gue']);
    expect(pinned.code, pinned.stderr).toBe(0);
    const atB = await b.configWhere((c) => c.paths[0]?.reason === 'pinned');
    expect(b.tunnel(atB, 'tnl-hub')).toMatchObject({ encap: 'gue' });
    expect((await hub.hub.status()).peers.find((p) => p.name === 'bob')).toMatchObject({ encap: 'gue', encapReason: 'pinned' });
    const table = JSON.parse((await runHubCli(hub.stateDir, ['peer', 'table', 'bob', '--json'])).stdout) as { encap: string; key: unknown };
    expect(table).toMatchObject({ encap: 'gue', key: null });

    const before = await hub.hub.registry.exportTables();
    for (const args of [['peer', 'pin', 'bob', '--encap', 'vxlan'], ['peer', 'pin', 'nobody', '--encap', 'gre'], ['peer', 'pin', 'bob']]) {
      const refused = await runHubCli(hub.stateDir, args);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(await hub.hub.registry.exportTables()).toEqual(before);

    const auto = await runHubCli(hub.stateDir, ['peer', 'pin', 'bob', '--encap', 'auto']);
    expect(auto.code, auto.stderr).toBe(0);
    await b.configWhere((c) => c.paths[0]?.reason === 'nat-detected');
  });

  it('`link remove` tears both ends down through new specs', async () => {
    const removed = await runHubCli(hub.stateDir, ['link', 'remove', 'bob', 'ann']);
    expect(removed.code, removed.stderr).toBe(0);
    const [atA, atB] = await Promise.all([
      a.configWhere((c) => c.tunnels.length === 1), b.configWhere((c) => c.tunnels.length === 1),
    ]);
    expect(atA.tunnels.map((t) => t.name)).toEqual(['tnl-hub']);
    expect(atB.tunnels.map((t) => t.name)).toEqual(['tnl-hub']);
    expect(atA.links).toHaveLength(1);
    expect((await hub.hub.status()).links).toEqual([]);
  });
});
