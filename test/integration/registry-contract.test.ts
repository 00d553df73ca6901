import { describe, expect, it } from 'vitest';
import { parseSshPublicKey } from '../../server/auth/ssh-public-key.js';
import { contractBackends } from '../helpers/registry-backends.js';
import { expectRefusedUnchanged, fakeClock } from '../helpers/registry-fixture.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';

const HOUR = 3_600_000;
const sshKey = () => parseSshPublicKey(generateEd25519KeyPair('k').public);

// One suite, both backends: whatever a store promises, it promises on SQLite and on PostgreSQL.
describe.each(contractBackends())('registry contract on $name', (backend) => {
  if (backend.unavailable) {
    it.skip(`skipped: ${backend.unavailable}`, () => undefined);
    return;
  }

  describe('schema', () => {
    it('migrates a new database to the latest version', async () => {
      const registry = await backend.empty();
      expect((await registry.exportTables()).schemaVersion).toBe(backend.steps);
      expect(Object.keys((await registry.exportTables()).tables)).toEqual(expect.arrayContaining([
        'allocations', 'audit_log', 'endpoints', 'free_subnets', 'hub', 'invites', 'links', 'peers', 'pools', 'ssh_keys',
      ]));
      await registry.close();
    });

    it('refuses peers before the hub is initialised, changing nothing', async () => {
      const registry = await backend.empty();
      await registry.pools.add('10.1.12.0/24');
      await expectRefusedUnchanged(registry, 'ERR_NOT_INITIALIZED', () => registry.peers.add({ name: 'alice' }));
    });
  });

  describe('hub settings', () => {
    it('sets and changes the endpoint, refusing a non-address', async () => {
      const registry = await backend.initialised();
      expect((await registry.settings.get())?.endpoint).toBe('198.51.100.1');
      expect(await registry.settings.setEndpoint('198.51.100.1')).toBe(false);
      expect(await registry.settings.setEndpoint('198.51.100.2')).toBe(true);
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ADDRESS', () => registry.settings.setEndpoint('hub.example'));
    });
  });

  describe('pools', () => {
    it('adds, lists with usage and removes pools', async () => {
      const registry = await backend.initialised();
      await registry.pools.add('10.1.12.0/24');
      await registry.pools.add('10.1.13.0/30');
      await registry.peers.add({ name: 'alice' });
      expect((await registry.pools.list()).map(({ cidr, subnets, used }) => ({ cidr, subnets, used }))).toEqual([
        { cidr: '10.1.12.0/24', subnets: 64, used: 1 },
        { cidr: '10.1.13.0/30', subnets: 1, used: 0 },
      ]);
      await registry.pools.remove('10.1.13.0/30');
      expect(await registry.pools.list()).toHaveLength(1);
    });

    it('refuses bad, overlapping, duplicate and too-small pools, changing nothing', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      expect(await expectRefusedUnchanged(registry, 'ERR_INVALID_CIDR', () => registry.pools.add('10.1.12.1/24'))).toMatch(/did you mean 10\.1\.12\.0\/24/);
      await expectRefusedUnchanged(registry, 'ERR_INVALID_CIDR', () => registry.pools.add('10.1.12.0/33'));
      expect(await expectRefusedUnchanged(registry, 'ERR_POOL_OVERLAP', () => registry.pools.add('10.1.0.0/16'))).toMatch(/10\.1\.12\.0\/24/);
      await expectRefusedUnchanged(registry, 'ERR_POOL_OVERLAP', () => registry.pools.add('10.1.12.128/25'));
      await expectRefusedUnchanged(registry, 'ERR_POOL_EXISTS', () => registry.pools.add('10.1.12.0/24'));
      await expectRefusedUnchanged(registry, 'ERR_POOL_TOO_SMALL', () => registry.pools.add('10.1.13.0/31'));
      await expectRefusedUnchanged(registry, 'ERR_POOL_NOT_FOUND', () => registry.pools.remove('10.9.0.0/16'));
    });

    it('refuses removing a pool in use or named by a live invite', async () => {
      const clock = fakeClock();
      const registry = await backend.initialised({ pools: ['10.1.12.0/24', '10.1.13.0/24'], clock });
      await registry.peers.add({ name: 'alice' });
      await expectRefusedUnchanged(registry, 'ERR_POOL_IN_USE', () => registry.pools.remove('10.1.12.0/24'));
      await registry.invites.create({ jti: 'j1', expiresAt: clock() + HOUR, uses: 1, pool: '10.1.13.0/24' });
      await expectRefusedUnchanged(registry, 'ERR_POOL_IN_USE', () => registry.pools.remove('10.1.13.0/24'));
      clock.advance(2 * HOUR);
      await registry.pools.remove('10.1.13.0/24');
      expect(await registry.invites.find('j1')).toBeUndefined();
    });
  });

  describe('peers', () => {
    it('gives each new peer a hub link: the hub the lower address, the peer the upper', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      const { peer, hubLink } = await registry.peers.add({ name: 'alice' });
      expect(peer).toMatchObject({ name: 'alice', pinnedEncap: null });
      expect(hubLink).toMatchObject({ ends: ['hub', 'alice'], hubLink: true, prefix: '10.1.12.0/30', inner: ['10.1.12.1', '10.1.12.2'], pool: '10.1.12.0/24' });
      expect((await registry.peers.add({ name: 'bob' })).hubLink.prefix).toBe('10.1.12.4/30');
      expect((await registry.peers.list()).map((p) => [p.name, p.prefix, p.inner])).toEqual([
        ['alice', '10.1.12.0/30', '10.1.12.2'],
        ['bob', '10.1.12.4/30', '10.1.12.6'],
      ]);
    });

    it('refuses bad, reserved and duplicate names, changing nothing', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice' });
      await expectRefusedUnchanged(registry, 'ERR_PEER_EXISTS', () => registry.peers.add({ name: 'alice' }));
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.peers.add({ name: 'hub' }));
      for (const name of ['', 'Alice', '-x', 'a b', 'a'.repeat(32), 'é']) {
        await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.peers.add({ name }));
      }
      await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.peers.remove('carol'));
      await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.peers.revoke('carol'));
    });

    it('stores SSH keys, finds peers by fingerprint and refuses a key already taken', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      const key = sshKey();
      await registry.peers.add({ name: 'alice', sshKey: key });
      expect((await registry.peers.findBySshFingerprint(key.fingerprint))?.name).toBe('alice');
      expect(await registry.peers.findBySshFingerprint('SHA256:nope')).toBeUndefined();
      expect(await expectRefusedUnchanged(registry, 'ERR_SSH_KEY_IN_USE', () => registry.peers.add({ name: 'bob', sshKey: key }))).toMatch(/peer "alice"/);
      const second = sshKey();
      await registry.peers.addSshKey('alice', second);
      expect((await registry.peers.show('alice')).sshKeys.map((k) => k.fingerprint)).toEqual([key.fingerprint, second.fingerprint]);
      await expectRefusedUnchanged(registry, 'ERR_SSH_KEY_IN_USE', () => registry.peers.addSshKey('alice', second));
    });

    it('revokes by moving to a new token version, never one used before', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      const first = (await registry.peers.add({ name: 'alice' })).peer.tokenVersion;
      const revoked = await registry.peers.revoke('alice');
      expect(revoked).toBeGreaterThan(first);
      expect((await registry.peers.require('alice')).tokenVersion).toBe(revoked);
      await registry.peers.remove('alice');
      // a namesake added later must not accept the old peer's tokens
      const again = (await registry.peers.add({ name: 'alice' })).peer.tokenVersion;
      expect([first, revoked]).not.toContain(again);
    });

    it('frees every /30 of a removed peer, and reuses the lowest first', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      for (const name of ['alice', 'bob', 'carol']) await registry.peers.add({ name });
      await registry.links.addPeerLink('alice', 'carol');
      expect((await registry.peers.remove('alice')).released).toEqual(['10.1.12.0/30', '10.1.12.12/30']);
      expect(await registry.links.list()).toHaveLength(2);
      expect((await registry.peers.add({ name: 'dave' })).hubLink.prefix).toBe('10.1.12.0/30');
      expect((await registry.peers.add({ name: 'erin' })).hubLink.prefix).toBe('10.1.12.12/30');
      expect((await registry.peers.add({ name: 'frank' })).hubLink.prefix).toBe('10.1.12.16/30');
    });

    it('moves on to the next pool, in creation order, and reports exhaustion without changes', async () => {
      const registry = await backend.initialised({ pools: ['10.9.0.0/30', '10.1.0.0/29'] });
      const prefixes: string[] = [];
      for (const name of ['a', 'b', 'c']) prefixes.push((await registry.peers.add({ name })).hubLink.prefix);
      expect(prefixes).toEqual(['10.9.0.0/30', '10.1.0.0/30', '10.1.0.4/30']);
      expect(await expectRefusedUnchanged(registry, 'ERR_POOL_EXHAUSTED', () => registry.peers.add({ name: 'd' }))).toMatch(/pool add/);
      await expectRefusedUnchanged(registry, 'ERR_POOL_EXHAUSTED', () => registry.links.addPeerLink('a', 'b'));
    });

    it('reports exhaustion when there is no pool at all', async () => {
      const registry = await backend.initialised();
      expect(await expectRefusedUnchanged(registry, 'ERR_POOL_EXHAUSTED', () => registry.peers.add({ name: 'a' }))).toMatch(/no address pool/);
    });

    it('takes the /30 from the requested pool only', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24', '10.1.13.0/30'] });
      expect((await registry.peers.add({ name: 'a', pool: '10.1.13.0/30' })).hubLink.prefix).toBe('10.1.13.0/30');
      await expectRefusedUnchanged(registry, 'ERR_POOL_EXHAUSTED', () => registry.peers.add({ name: 'b', pool: '10.1.13.0/30' }));
      await expectRefusedUnchanged(registry, 'ERR_POOL_NOT_FOUND', () => registry.peers.add({ name: 'b', pool: '10.1.14.0/24' }));
    });
  });

  describe('peer links', () => {
    it('links two peers, the first named end taking the lower address', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice' });
      await registry.peers.add({ name: 'bob' });
      const link = await registry.links.addPeerLink('bob', 'alice');
      expect(link).toMatchObject({ ends: ['bob', 'alice'], hubLink: false, prefix: '10.1.12.8/30', inner: ['10.1.12.9', '10.1.12.10'] });
      expect(await registry.links.list({ peerLinksOnly: true })).toEqual([link]);
      expect((await registry.links.listForPeer('alice')).map((l) => l.ends)).toEqual([['hub', 'alice'], ['bob', 'alice']]);
      expect(new Set((await registry.links.list()).map((l) => l.greKey)).size).toBe(3);
    });

    it('gives a peer\'s hub link and peer links with their tables in one read, as each is read alone', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice' });
      await registry.peers.add({ name: 'bob' });
      const link = await registry.links.addPeerLink('bob', 'alice');
      await registry.endpoints.record('bob', { address: '203.0.113.20', source: 'observed' });
      const { hubLink, peerLinks } = await registry.links.linksWithTablesOf('alice');
      expect(hubLink).toEqual({ link: await registry.links.hubLinkOf('alice'), table: (await registry.links.tablesForPeer('alice'))[0] });
      expect(peerLinks).toEqual([{ link, table: await registry.links.table(link.id) }]);
      expect((await registry.links.linksWithTablesOf('bob')).peerLinks.map((l) => l.link.ends)).toEqual([['bob', 'alice']]);
      await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.links.linksWithTablesOf('carol'));
    });

    it('refuses duplicate (either way round), self, hub and unknown ends, changing nothing', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice' });
      await registry.peers.add({ name: 'bob' });
      await registry.links.addPeerLink('alice', 'bob');
      await expectRefusedUnchanged(registry, 'ERR_LINK_EXISTS', () => registry.links.addPeerLink('alice', 'bob'));
      await expectRefusedUnchanged(registry, 'ERR_LINK_EXISTS', () => registry.links.addPeerLink('bob', 'alice'));
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.links.addPeerLink('alice', 'alice'));
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.links.addPeerLink('hub', 'alice'));
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.links.removePeerLink('hub', 'alice'));
      await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.links.addPeerLink('alice', 'carol'));
      await registry.links.removePeerLink('bob', 'alice');
      await expectRefusedUnchanged(registry, 'ERR_LINK_NOT_FOUND', () => registry.links.removePeerLink('alice', 'bob'));
    });

    it('never reuses a GRE key, even after the link is gone', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice' });
      await registry.peers.add({ name: 'bob' });
      const first = await registry.links.addPeerLink('alice', 'bob');
      await registry.links.removePeerLink('alice', 'bob');
      const second = await registry.links.addPeerLink('alice', 'bob');
      expect(second.prefix).toBe(first.prefix);
      expect(second.greKey).toBeGreaterThan(first.greKey);
    });
  });

  describe('link tables', () => {
    it('prints the hub link with the hub first and public null until seen', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.36/30'] });
      await registry.peers.add({ name: 'alice' });
      const link = await registry.links.hubLinkOf('alice');
      expect(await registry.links.table(link.id)).toEqual({
        prefix: '10.1.12.36/30', encap: 'gre', key: link.greKey, mtu: 1472,
        ends: [
          { name: 'hub', public: '198.51.100.1', inner: '10.1.12.37' },
          { name: 'alice', public: null, inner: '10.1.12.38' },
        ],
      });
      await registry.endpoints.record('alice', { address: '203.0.113.10', source: 'observed' });
      expect((await registry.links.tablesForPeer('alice'))[0]?.ends[1]?.public).toBe('203.0.113.10');
    });

    it('follows a pinned encapsulation (no GRE key on UDP paths)', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice' });
      await registry.peers.add({ name: 'bob' });
      await registry.links.addPeerLink('alice', 'bob');
      await registry.peers.setPinnedEncap('bob', 'fou');
      const [hubTable, peerTable] = await registry.links.tablesForPeer('bob');
      expect(hubTable).toMatchObject({ encap: 'fou', key: null, mtu: 1468 });
      expect(peerTable).toMatchObject({ encap: 'fou', ends: [{ name: 'alice' }, { name: 'bob' }] });
      await registry.peers.setPinnedEncap('alice', 'gue');
      expect((await registry.links.tablesForPeer('bob'))[1]).toMatchObject({ encap: 'gue', key: null, mtu: 1468 });
      await registry.peers.setPinnedEncap('bob', null);
      expect((await registry.links.tablesForPeer('bob'))[0]).toMatchObject({ encap: 'gre', mtu: 1472 });
      // gretap carries the key like gre, and its MTU counts the Ethernet header.
      await registry.peers.setPinnedEncap('bob', 'gretap');
      expect(await registry.peers.find('bob')).toMatchObject({ pinnedEncap: 'gretap' });
      expect((await registry.links.tablesForPeer('bob'))[0]).toMatchObject({ encap: 'gretap', mtu: 1458 });
      expect((await registry.links.tablesForPeer('bob'))[0]?.key).not.toBeNull();
    });
  });

  describe('status overview', () => {
    it('reads every peer as the per-peer reads do, and every peer link with its table and reason, in one query each', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      for (const name of ['dave', 'alice', 'carol', 'bob']) await registry.peers.add({ name, ...(name === 'carol' ? { keyless: true } : {}) });
      await registry.peers.setPinnedEncap('bob', 'gue');
      await registry.endpoints.record('alice', { address: '203.0.113.10', source: 'observed' });
      await registry.endpoints.record('alice', { address: '203.0.113.11', source: 'observed' });
      await registry.endpoints.record('carol', { address: '2001:db8::c', source: 'observed' });
      const aliceLink = await registry.links.hubLinkOf('alice');
      await registry.paths.record(aliceLink.id, 'fou', 'nat-detected');
      await registry.specs.issue('alice', aliceLink.id, { spec: 1 }, { config: 1 }, '192.168.1.20');
      await registry.specs.recordHubApplied(aliceLink.id, 1);
      await registry.specs.recordPeerAck('alice', 1);
      await registry.specs.issue('bob', (await registry.links.hubLinkOf('bob')).id, { spec: 1 }, { config: 1 }, null);
      await registry.links.addPeerLink('alice', 'bob');
      await registry.links.addPeerLink('carol', 'dave');
      await registry.paths.record((await registry.links.list({ peerLinksOnly: true }))[0]?.id ?? 0, 'fou', 'nat-detected');

      const overview = await registry.overview.list();
      expect(overview.map((peer) => peer.name)).toEqual(['alice', 'bob', 'carol', 'dave']);
      for (const peer of overview) {
        const link = await registry.links.hubLinkOf(peer.name);
        const latest = await registry.endpoints.latest(peer.name);
        expect(peer).toEqual({
          name: peer.name,
          linkId: link.id,
          prefix: link.prefix,
          inner: link.inner[1],
          encap: (await registry.links.table(link.id)).encap,
          pathReason: (await registry.paths.find(link.id))?.reason ?? null,
          pathEsp: (await registry.paths.find(link.id))?.esp ?? null,
          endpoint: latest && { address: latest.address, seenAt: latest.seenAt },
          versions: (await registry.specs.versions(peer.name, link.id)) ?? null,
        });
      }
      expect(overview.find((peer) => peer.name === 'alice')).toMatchObject({
        encap: 'fou', pathReason: 'nat-detected', endpoint: { address: '203.0.113.11' },
        versions: { hub: { issued: 1, applied: 1 }, peer: { issued: 1, acked: 1, reported: '192.168.1.20' } },
      });
      expect(overview.find((peer) => peer.name === 'bob')).toMatchObject({ encap: 'gue', endpoint: null, versions: { peer: { issued: 1, acked: 0 } } });
      // A session start issues and records the seen address in one transaction.
      await registry.specs.issue('dave', (await registry.links.hubLinkOf('dave')).id, { spec: 1 }, { config: 1 }, null, { address: '198.51.100.44', source: 'observed' });
      expect((await registry.endpoints.latest('dave'))?.address).toBe('198.51.100.44');
      expect((await registry.specs.configAcks()).sort((x, y) => x.peer.localeCompare(y.peer))).toEqual([
        { peer: 'alice', version: 1, acked: 1, reported: '192.168.1.20' },
        { peer: 'bob', version: 1, acked: 0, reported: null },
        { peer: 'dave', version: 1, acked: 0, reported: null },
      ]);

      const peerLinks = await registry.links.listWithTables({ peerLinksOnly: true });
      expect(peerLinks.map(({ link }) => link)).toEqual(await registry.links.list({ peerLinksOnly: true }));
      for (const { link, table, reason } of peerLinks) {
        expect({ table, reason }).toEqual({ table: await registry.links.table(link.id), reason: (await registry.paths.find(link.id))?.reason ?? null });
      }
      expect(peerLinks.map(({ reason }) => reason)).toEqual(['nat-detected', null]);
      expect((await registry.links.listWithTables()).map(({ link }) => link)).toEqual(await registry.links.list());
    });
  });

  describe('invites', () => {
    it('spends uses one at a time and then refuses, changing nothing', async () => {
      const clock = fakeClock();
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'], clock });
      await registry.invites.create({ jti: 'j1', expiresAt: clock() + HOUR, uses: 2 });
      expect((await registry.invites.redeem('j1')).usesLeft).toBe(1);
      expect((await registry.invites.redeem('j1')).usesLeft).toBe(0);
      await expectRefusedUnchanged(registry, 'ERR_TOKEN_USED', () => registry.invites.redeem('j1'));
      await expectRefusedUnchanged(registry, 'ERR_TOKEN_INVALID', () => registry.invites.redeem('unknown'));
    });

    it('refuses an expired invite', async () => {
      const clock = fakeClock();
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'], clock });
      await registry.invites.create({ jti: 'j1', expiresAt: clock() + HOUR, uses: 1 });
      clock.advance(HOUR);
      await expectRefusedUnchanged(registry, 'ERR_TOKEN_EXPIRED', () => registry.invites.redeem('j1'));
    });

    it('refuses invites without uses, already expired, or naming a missing pool', async () => {
      const clock = fakeClock();
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'], clock });
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.invites.create({ jti: 'j', expiresAt: clock() + HOUR, uses: 0 }));
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.invites.create({ jti: 'j', expiresAt: clock(), uses: 1 }));
      await expectRefusedUnchanged(registry, 'ERR_POOL_NOT_FOUND', () => registry.invites.create({ jti: 'j', expiresAt: clock() + HOUR, uses: 1, pool: '10.2.0.0/16' }));
    });

    it('adds a peer and spends the invite in one transaction, using its pool', async () => {
      const clock = fakeClock();
      const registry = await backend.initialised({ pools: ['10.1.12.0/24', '10.1.13.0/24'], clock });
      await registry.peers.add({ name: 'alice' });
      await registry.invites.create({ jti: 'j1', expiresAt: clock() + HOUR, uses: 1, pool: '10.1.13.0/24' });
      // A refused join leaves the invite unspent.
      await expectRefusedUnchanged(registry, 'ERR_PEER_EXISTS', () => registry.peers.add({ name: 'alice', inviteJti: 'j1' }));
      expect((await registry.peers.add({ name: 'bob', inviteJti: 'j1' })).hubLink.prefix).toBe('10.1.13.0/30');
      await expectRefusedUnchanged(registry, 'ERR_TOKEN_USED', () => registry.peers.add({ name: 'carol', inviteJti: 'j1' }));
    });
  });

  describe('endpoints', () => {
    it('refreshes an unchanged endpoint and records a new one', async () => {
      const clock = fakeClock();
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'], clock });
      await registry.peers.add({ name: 'alice' });
      expect(await registry.endpoints.latest('alice')).toBeNull();
      expect((await registry.endpoints.record('alice', { address: '203.0.113.10', source: 'observed' })).changed).toBe(true);
      clock.advance(1000);
      const again = await registry.endpoints.record('alice', { address: '203.0.113.10', source: 'observed' });
      expect(again).toMatchObject({ changed: false, endpoint: { seenAt: clock(), firstSeenAt: clock() - 1000 } });
      clock.advance(1000);
      const moved = await registry.endpoints.record('alice', { address: '203.0.113.11', port: 4754, source: 'observed' });
      // What a new address returns is the row as stored, not read again.
      expect(moved).toEqual({ changed: true, endpoint: await registry.endpoints.latest('alice') });
      expect(moved.endpoint).toEqual({ address: '203.0.113.11', port: 4754, source: 'observed', firstSeenAt: clock(), seenAt: clock() });
      expect((await registry.endpoints.history('alice')).map((e) => [e.address, e.port])).toEqual([['203.0.113.11', 4754], ['203.0.113.10', null]]);
    });

    it('keeps a bounded history per peer', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice' });
      for (let i = 0; i < 150; i++) await registry.endpoints.record('alice', { address: `203.0.113.${i % 2}`, port: 1000 + i, source: 'observed' });
      const history = await registry.endpoints.history('alice', { limit: 1000 });
      expect(history).toHaveLength(100);
      expect(history[0]?.port).toBe(1149);
    });

    it('refuses bad endpoints and unknown peers, changing nothing', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice' });
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ADDRESS', () => registry.endpoints.record('alice', { address: '203.0.113', source: 'observed' }));
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.endpoints.record('alice', { address: '203.0.113.1', port: 70000, source: 'observed' }));
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.endpoints.record('alice', { address: '203.0.113.1', source: 'Bad Source' }));
      await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.endpoints.record('bob', { address: '203.0.113.1', source: 'observed' }));
    });
  });

  describe('routers: dyndns2 keys and keyless hub links', () => {
    it('issues a key shown once, keeps only its hash, and voids it when issued again', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice' });
      await registry.peers.add({ name: 'bob' });
      expect(await registry.dyndnsKeys.verify('alice', 'anything')).toBe(false);
      const first = await registry.dyndnsKeys.issue('alice');
      expect(JSON.stringify(await registry.exportTables())).not.toContain(first);
      expect(await registry.dyndnsKeys.verify('alice', first)).toBe(true);
      expect(await registry.dyndnsKeys.verify('bob', first)).toBe(false);
      const second = await registry.dyndnsKeys.issue('alice');
      expect(await registry.dyndnsKeys.verify('alice', first)).toBe(false);
      expect(await registry.dyndnsKeys.verify('alice', second)).toBe(true);
      expect(await registry.dyndnsKeys.peersWithKeys()).toEqual(['alice']);
      await registry.peers.revoke('alice');
      expect(await registry.dyndnsKeys.peersWithKeys()).toEqual([]);
      expect((await registry.audit.list()).filter((e) => e.action === 'peer.dyndns-key').map((e) => e.detail)).toEqual([{ replaced: true }, { replaced: false }]);
      await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.dyndnsKeys.issue('carol'));
      await registry.peers.remove('alice');
      expect(await registry.dyndnsKeys.verify('alice', second)).toBe(false);
    });

    it('runs a hub link without its GRE key, and finds keyless peers by their last address', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice', keyless: true });
      await registry.peers.add({ name: 'bob' });
      const table = async (peer: string) => registry.links.table((await registry.links.hubLinkOf(peer)).id);
      expect(await table('alice')).toMatchObject({ encap: 'gre', key: null, mtu: 1476 });
      expect(await table('bob')).toMatchObject({ encap: 'gre', key: expect.any(Number), mtu: 1472 });
      expect((await registry.links.hubLinkOf('alice')).keyless).toBe(true);
      expect(await registry.keyless.setHubLinkKeyless('bob', true)).toBe(true);
      expect(await registry.keyless.setHubLinkKeyless('bob', true)).toBe(false);
      expect(await registry.keyless.isHubLinkKeyless('bob')).toBe(true);
      await registry.endpoints.record('alice', { address: '203.0.113.7', source: 'observed' });
      await registry.endpoints.record('bob', { address: '203.0.113.7', source: 'observed' });
      expect(await registry.keyless.keylessPeersAt('203.0.113.7', 'bob')).toEqual(['alice']);
      expect(await registry.keyless.keylessPeersAt('203.0.113.8', 'bob')).toEqual([]);
      expect(await registry.keyless.setHubLinkKeyless('bob', false)).toBe(true);
      expect(await table('bob')).toMatchObject({ key: expect.any(Number), mtu: 1472 });
      expect(await registry.keyless.keylessPeersAt('203.0.113.7', 'alice')).toEqual([]);
      await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.keyless.setHubLinkKeyless('carol', true));
    });
  });

  describe('hub links: encapsulation', () => {
    const twoHubs = async (clock = fakeClock()) => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'], clock });
      await registry.hubs.join({ name: 'hub', endpoint: '198.51.100.1', hostKeyFingerprint: 'SHA256:a' });
      await registry.hubs.join({ name: 'hub2', endpoint: '198.51.100.2', hostKeyFingerprint: 'SHA256:b' });
      return registry;
    };

    it('runs a new hub link on GRE, unpinned, for the default reason', async () => {
      const registry = await twoHubs();
      await registry.hubLinks.ensure('hub2', 'hub');
      expect(await registry.hubLinks.list()).toEqual([expect.objectContaining({
        hubs: ['hub', 'hub2'], encap: 'gre', encapReason: 'default', pinned: false, encapChangedAt: null,
      })]);
    });

    it('switches once when both hubs switch at once (compare and set on the encapsulation they saw)', async () => {
      const clock = fakeClock();
      const registry = await twoHubs(clock);
      await registry.hubLinks.ensure('hub', 'hub2');
      clock.advance(5_000);
      const results = await Promise.all([
        registry.hubLinks.switchEncap('hub', 'hub2', 'gre', 'fou', 'gre-unanswered'),
        registry.hubLinks.switchEncap('hub2', 'hub', 'gre', 'fou', 'gre-unanswered'),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const [link] = await registry.hubLinks.list();
      expect(link).toMatchObject({ encap: 'fou', encapReason: 'gre-unanswered', pinned: false, encapChangedAt: Date.UTC(2026, 0, 1) + 5_000 });
      expect((await registry.audit.list()).filter((e) => e.action === 'hub.link.encap')).toEqual([
        expect.objectContaining({ subject: 'hub<->hub2', detail: { from: 'gre', to: 'fou', reason: 'gre-unanswered' } }),
      ]);
      // A hub that still saw GRE changes nothing; one that saw FOU moves it back.
      expect(await registry.hubLinks.switchEncap('hub', 'hub2', 'gre', 'fou', 'gre-unanswered')).toBe(false);
      expect(await registry.hubLinks.switchEncap('hub', 'hub2', 'fou', 'gre', 'fou-unanswered')).toBe(true);
      expect((await registry.hubLinks.list())[0]).toMatchObject({ encap: 'gre', encapReason: 'fou-unanswered' });
    });

    it('pins a link (made if missing), never switches it while pinned, and frees it keeping what it runs', async () => {
      const registry = await twoHubs();
      expect(await registry.hubLinks.pin('hub2', 'hub', 'fou')).toMatchObject({ hubs: ['hub', 'hub2'], encap: 'fou', encapReason: 'pinned', pinned: true });
      expect(await registry.hubLinks.switchEncap('hub', 'hub2', 'fou', 'gre', 'fou-unanswered')).toBe(false);
      expect((await registry.hubLinks.list())[0]).toMatchObject({ encap: 'fou', pinned: true });
      expect(await registry.hubLinks.pin('hub', 'hub2', null)).toMatchObject({ encap: 'fou', encapReason: 'unpinned', pinned: false });
      expect(await registry.hubLinks.switchEncap('hub', 'hub2', 'fou', 'gre', 'fou-unanswered')).toBe(true);
    });

    it('refuses a pin naming one hub twice, an unknown hub or another encapsulation, changing nothing', async () => {
      const registry = await twoHubs();
      await registry.hubLinks.ensure('hub', 'hub2');
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.hubLinks.pin('hub', 'hub', 'fou'));
      await expectRefusedUnchanged(registry, 'ERR_HUB_NOT_FOUND', () => registry.hubLinks.pin('hub', 'hub3', 'fou'));
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.hubLinks.pin('hub', 'hub2', 'gue' as 'fou'));
    });
  });

  describe('audit log', () => {
    it('records admin actions, newest first', async () => {
      const registry = await backend.initialised({ pools: ['10.1.12.0/24'] });
      await registry.peers.add({ name: 'alice', sshKey: sshKey() });
      await registry.peers.revoke('alice');
      await registry.peers.remove('alice');
      expect((await registry.audit.list()).map((e) => [e.action, e.subject])).toEqual([
        ['peer.remove', 'alice'], ['peer.revoke', 'alice'], ['peer.add', 'alice'], ['pool.add', '10.1.12.0/24'], ['hub.endpoint', 'hub'],
      ]);
      expect((await registry.audit.list())[2]?.detail).toMatchObject({ prefix: '10.1.12.0/30', fingerprint: expect.stringMatching(/^SHA256:/) });
    });
  });
});
