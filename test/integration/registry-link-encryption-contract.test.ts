import { describe, expect, it } from 'vitest';
import { contractBackends } from '../helpers/registry-backends.js';
import { expectRefusedUnchanged } from '../helpers/registry-fixture.js';

// What encrypted links keep in the registry, on SQLite and on PostgreSQL alike.
describe.each(contractBackends())('encrypted links in the registry ($name)', (backend) => {
  if (backend.unavailable) {
    it.skip(`skipped: ${backend.unavailable}`, () => undefined);
    return;
  }

  async function withPeers(...names: string[]) {
    const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
    for (const name of names) await registry.peers.add({ name });
    return registry;
  }

  it('keeps a per-peer setting: on, off, or none (the default), audited, and shows it with the peer', async () => {
    const registry = await withPeers('alice');
    expect(await registry.encryption.of('alice')).toBeNull();
    expect((await registry.peers.find('alice'))?.encrypt).toBeNull();
    expect(await registry.encryption.set('alice', 'on')).toBe(true);
    expect(await registry.encryption.set('alice', 'on')).toBe(false);
    expect((await registry.peers.find('alice'))?.encrypt).toBe('on');
    expect((await registry.peers.list())[0]?.encrypt).toBe('on');
    expect(await registry.encryption.set('alice', 'off')).toBe(true);
    expect(await registry.encryption.of('alice')).toBe('off');
    expect(await registry.encryption.set('alice', null)).toBe(true);
    expect(await registry.encryption.of('alice')).toBeNull();
    expect((await registry.audit.list()).filter((entry) => entry.action === 'peer.encrypt').map((entry) => entry.detail)).toEqual([
      { encrypt: null, previous: 'off' }, { encrypt: 'off', previous: 'on' }, { encrypt: 'on', previous: null },
    ]);
    await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.encryption.set('nobody', 'on'));
    await registry.close();
  });

  it('makes epochs that are never reused, keeps the newest three per link, and finds each link\'s newest in one read', async () => {
    const registry = await withPeers('alice', 'bob');
    const alice = (await registry.links.hubLinkOf('alice')).id;
    const bob = (await registry.links.hubLinkOf('bob')).id;
    const made: number[] = [];
    for (let i = 0; i < 5; i++) made.push((await registry.saEpochs.start({ kind: 'member', linkId: alice }, 'aes-gcm', 'interval')).epoch);
    const bobs = await registry.saEpochs.start({ kind: 'member', linkId: bob }, 'chacha20-poly1305', 'session');
    expect(new Set([...made, bobs.epoch]).size).toBe(6);
    expect(made).toEqual([...made].sort((a, b) => a - b));
    expect((await registry.saEpochs.history({ kind: 'member', linkId: alice })).map((e) => e.epoch)).toEqual(made.slice(2).reverse());
    const latest = await registry.saEpochs.latest([alice, bob, 9999]);
    expect([...latest.keys()].sort()).toEqual([alice, bob].sort());
    expect(latest.get(alice)).toMatchObject({ epoch: made[4], aead: 'aes-gcm', reason: 'interval' });
    expect(latest.get(bob)).toMatchObject({ epoch: bobs.epoch, aead: 'chacha20-poly1305', reason: 'session' });
    expect(await registry.saEpochs.latest([])).toEqual(new Map());

    // A removed peer's epochs go with its link, and a new link never gets an old epoch back.
    await registry.peers.remove('alice');
    expect(await registry.saEpochs.latest([alice])).toEqual(new Map());
    await registry.peers.add({ name: 'carol' });
    const carol = (await registry.links.hubLinkOf('carol')).id;
    expect((await registry.saEpochs.start({ kind: 'member', linkId: carol }, 'aes-gcm', 'session')).epoch).toBeGreaterThan(bobs.epoch);
    await registry.close();
  });

  it('`peer rekey`: a new epoch for every link of the peer in one transaction, audited without keys', async () => {
    const registry = await withPeers('alice', 'bob');
    await registry.links.addPeerLink('alice', 'bob');
    const rekeyed = await registry.saEpochs.rekeyPeer('alice', 'aes-gcm');
    expect(rekeyed).toHaveLength(2);
    expect(rekeyed[0]?.linkId).toBe((await registry.links.hubLinkOf('alice')).id);
    const entry = (await registry.audit.list()).find((e) => e.action === 'peer.rekey');
    expect(entry?.detail).toEqual({ links: rekeyed.map((r) => r.linkId) });
    await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.saEpochs.rekeyPeer('nobody', 'aes-gcm'));
    await registry.close();
  });

  it('records how an encrypted link carries ESP, and the table follows it (GRE in ESP, its MTU)', async () => {
    const registry = await withPeers('alice');
    const link = (await registry.links.hubLinkOf('alice')).id;
    expect(await registry.paths.record(link, 'gre', 'public', 'raw')).toBe(true);
    expect(await registry.paths.record(link, 'gre', 'public', 'raw')).toBe(false);
    expect(await registry.paths.find(link)).toMatchObject({ encap: 'gre', reason: 'public', esp: 'raw' });
    expect(await registry.links.table(link)).toMatchObject({ encap: 'gre', key: expect.any(Number), mtu: 1438, esp: 'raw' });
    expect(await registry.paths.record(link, 'gre', 'nat-detected', 'udp')).toBe(true);
    expect(await registry.links.table(link)).toMatchObject({ encap: 'gre', mtu: 1430, esp: 'udp' });
    // Back in the clear: no esp, the plain table.
    expect(await registry.paths.record(link, 'gre', 'public')).toBe(true);
    const table = await registry.links.table(link);
    expect(table).toMatchObject({ encap: 'gre', mtu: 1472 });
    expect(table).not.toHaveProperty('esp');
    await registry.close();
  });

  it('keeps one ESP master key for every hub: the first one asked for stays', async () => {
    const registry = await withPeers();
    const first = await registry.clusterSecrets.espMasterKey(() => 'A'.repeat(43));
    expect(first).toBe('A'.repeat(43));
    expect(await registry.clusterSecrets.espMasterKey(() => 'B'.repeat(43))).toBe(first);
    await registry.close();
  });
});
