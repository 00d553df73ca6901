import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../server/registry/registry.js';
import { waitUntil } from '../helpers/wait-until.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { contractBackends } from '../helpers/registry-backends.js';
import { expectRefusedUnchanged, type FakeClock, fakeClock } from '../helpers/registry-fixture.js';

// Shortcut links and the per-member setting, on SQLite and on PostgreSQL alike.
describe.each(contractBackends())('shortcuts in the registry ($name)', (backend) => {
  if (backend.unavailable) {
    it.skip(`skipped: ${backend.unavailable}`, () => undefined);
    return;
  }

  async function withMembers(clock: FakeClock, ...names: string[]): Promise<Registry> {
    const registry = await backend.initialised({ pools: ['10.1.12.0/24'], clock });
    for (const name of names) await registry.peers.add({ name });
    return registry;
  }

  it('makes a shortcut with its own /30 from the pool, lists it with kind, why, creation and last activity beside operator links', async () => {
    const clock = fakeClock();
    const registry = await withMembers(clock, 'c1', 'c2', 'c3');
    const operator = await registry.links.addPeerLink('c1', 'c3');
    expect(operator).toMatchObject({ kind: 'operator', why: null, lastActiveAt: null });
    clock.advance(1_000);
    const shortcut = await registry.links.addShortcut('c2', 'c1', 'rate 3.2 Mbit/s');
    expect(shortcut).toMatchObject({ ends: ['c2', 'c1'], hubLink: false, kind: 'shortcut', why: 'rate 3.2 Mbit/s', createdAt: clock(), lastActiveAt: clock() });
    expect(shortcut.prefix).not.toBe(operator.prefix);
    expect((await registry.links.list({ peerLinksOnly: true })).map((l) => [l.ends.join('<->'), l.kind, l.why, l.prefix])).toEqual([
      ['c1<->c3', 'operator', null, operator.prefix], ['c2<->c1', 'shortcut', 'rate 3.2 Mbit/s', shortcut.prefix],
    ]);
    expect((await registry.links.list()).filter((l) => l.hubLink).every((l) => l.kind === 'hub' && l.why === null)).toBe(true);
    expect((await registry.links.shortcutsOf('c1')).map((l) => l.id)).toEqual([shortcut.id]);
    expect(await registry.links.shortcutsOf('c3')).toEqual([]);
    expect((await registry.links.listForPeer('c2')).map((l) => l.kind)).toEqual(['hub', 'shortcut']);
    expect((await registry.audit.list({ limit: 1 }))[0]).toMatchObject({ action: 'shortcut.add', subject: 'c2<->c1', detail: { why: 'rate 3.2 Mbit/s', prefix: shortcut.prefix } });
  });

  it('gives the /30 back when a shortcut goes, by the hub (with its reason), by `link remove`, or with its member', async () => {
    const clock = fakeClock();
    const registry = await withMembers(clock, 'c1', 'c2', 'c3');
    const first = await registry.links.addShortcut('c1', 'c2', 'rate 2 Mbit/s');
    expect(await registry.links.removeShortcut('c2', 'c1', 'idle')).toMatchObject({ id: first.id, kind: 'shortcut' });
    expect((await registry.audit.list({ limit: 1 }))[0]).toMatchObject({ action: 'shortcut.remove', detail: { reason: 'idle', prefix: first.prefix } });
    const second = await registry.links.addShortcut('c1', 'c2', 'rate 2 Mbit/s');
    expect(second.prefix).toBe(first.prefix);
    expect(await registry.links.removePeerLink('c1', 'c2')).toMatchObject({ kind: 'shortcut' });
    const third = await registry.links.addShortcut('c3', 'c2', 'rate 9 Mbit/s');
    expect(third.prefix).toBe(first.prefix);
    const used = async () => (await registry.pools.list())[0]?.used;
    expect(await used()).toBe(4);
    const { released } = await registry.peers.remove('c3');
    expect(released).toContain(third.prefix);
    expect(await used()).toBe(2);
    expect((await registry.exportTables()).tables.link_shortcuts).toEqual([]);
  });

  it('records activity, never moving it backwards', async () => {
    const clock = fakeClock();
    const registry = await withMembers(clock, 'c1', 'c2');
    const made = await registry.links.addShortcut('c1', 'c2', 'rate 2 Mbit/s');
    expect(await registry.links.touchShortcut('c2', 'c1', made.createdAt + 60_000)).toBe(made.createdAt + 60_000);
    expect(await registry.links.touchShortcut('c1', 'c2', made.createdAt + 30_000)).toBe(made.createdAt + 60_000);
    clock.advance(90_000);
    expect(await registry.links.touchShortcut('c1', 'c2')).toBe(clock());
    expect((await registry.links.shortcutsOf('c1'))[0]?.lastActiveAt).toBe(clock());
  });

  it('refuses, changing nothing: the hub, one peer twice, unknown peers, a linked pair, a bad reason, a member with shortcuts off', async () => {
    const registry = await withMembers(fakeClock(), 'c1', 'c2', 'c3', 'c4');
    await registry.links.addPeerLink('c1', 'c2');
    await registry.links.addShortcut('c3', 'c4', 'rate 2 Mbit/s');
    await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.links.addShortcut('hub', 'c1', 'rate 2 Mbit/s'));
    await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.links.addShortcut('c1', 'c1', 'rate 2 Mbit/s'));
    await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.links.addShortcut('c1', 'c9', 'rate 2 Mbit/s'));
    await expectRefusedUnchanged(registry, 'ERR_LINK_EXISTS', () => registry.links.addShortcut('c2', 'c1', 'rate 2 Mbit/s'));
    await expectRefusedUnchanged(registry, 'ERR_LINK_EXISTS', () => registry.links.addShortcut('c4', 'c3', 'rate 2 Mbit/s'));
    await expectRefusedUnchanged(registry, 'ERR_LINK_EXISTS', () => registry.links.addPeerLink('c4', 'c3'));
    for (const why of ['', 'x'.repeat(121), 'rate\n2 Mbit/s', 'débit 2 Mbit/s']) {
      await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.links.addShortcut('c1', 'c3', why));
    }
    await registry.peers.setShortcuts('c3', false);
    expect(await expectRefusedUnchanged(registry, 'ERR_SHORTCUTS_OFF', () => registry.links.addShortcut('c1', 'c3', 'rate 2 Mbit/s'))).toMatch(/"c3" has shortcuts off/);
    await registry.peers.setShortcuts('c1', false);
    expect(await expectRefusedUnchanged(registry, 'ERR_SHORTCUTS_OFF', () => registry.links.addShortcut('c3', 'c1', 'rate 2 Mbit/s'))).toMatch(/"c1" and "c3" have shortcuts off/);
  });

  it('never removes or touches an operator link as a shortcut, changing nothing', async () => {
    const registry = await withMembers(fakeClock(), 'c1', 'c2', 'c3');
    await registry.links.addPeerLink('c1', 'c2');
    expect(await expectRefusedUnchanged(registry, 'ERR_LINK_NOT_FOUND', () => registry.links.removeShortcut('c2', 'c1', 'idle'))).toMatch(/the operator's/);
    await expectRefusedUnchanged(registry, 'ERR_LINK_NOT_FOUND', () => registry.links.touchShortcut('c1', 'c2'));
    await expectRefusedUnchanged(registry, 'ERR_LINK_NOT_FOUND', () => registry.links.removeShortcut('c1', 'c3', 'idle'));
    await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.links.removeShortcut('c1', 'c9', 'idle'));
    await expectRefusedUnchanged(registry, 'ERR_INVALID_ARGUMENT', () => registry.links.removeShortcut('hub', 'c1', 'idle'));
    await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.links.shortcutsOf('c9'));
  });

  it('keeps each member\'s setting: on by default, off and on again, refusing unknown peers unchanged', async () => {
    const registry = await withMembers(fakeClock(), 'c1', 'c2');
    expect(await registry.peers.shortcutsOn('c1')).toBe(true);
    expect(await registry.peers.setShortcuts('c1', false)).toBe(true);
    expect(await registry.peers.setShortcuts('c1', false)).toBe(false);
    expect(await registry.peers.shortcutsOn('c1')).toBe(false);
    expect(await registry.peers.shortcutsOff()).toEqual(['c1']);
    expect(await registry.peers.setShortcuts('c1', true)).toBe(true);
    expect(await registry.peers.shortcutsOff()).toEqual([]);
    expect((await registry.audit.list({ limit: 2 })).map((e) => [e.action, e.detail])).toEqual([['peer.shortcuts', { on: true }], ['peer.shortcuts', { on: false }]]);
    await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.peers.setShortcuts('c9', false));
    await expectRefusedUnchanged(registry, 'ERR_PEER_NOT_FOUND', () => registry.peers.shortcutsOn('c9'));
  });
});

const pgReason = postgresUnavailableReason();

describe.skipIf(pgReason !== null)('shortcuts and the other hubs (PostgreSQL NOTIFY)', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => server?.close());

  it('announces a shortcut made or removed, and stays quiet about its activity', async () => {
    const url = await server.createDatabase('shortcut_notify');
    const writer = await Registry.open(url);
    const watcher = await Registry.open(url);
    let changes = 0;
    const watch = watcher.watchChanges(() => (changes += 1), () => undefined, 200);
    try {
      await writer.settings.setEndpoint('198.51.100.1');
      await writer.pools.add('10.1.12.0/24');
      await writer.peers.add({ name: 'c1' });
      await writer.peers.add({ name: 'c2' });
      await new Promise((resolve) => setTimeout(resolve, 600)); // those writes' notices arrive (their number is not the point)
      let before = changes;
      await writer.links.addShortcut('c1', 'c2', 'rate 2 Mbit/s');
      await waitUntil(() => changes > before, 2_000, 'the new shortcut to be announced');
      await new Promise((resolve) => setTimeout(resolve, 600)); // any further notice of that write arrives
      before = changes;
      await writer.links.touchShortcut('c1', 'c2', Date.now() + 60_000);
      await new Promise((resolve) => setTimeout(resolve, 600)); // time for a notice that must not come
      expect(changes).toBe(before);
      await writer.links.removeShortcut('c1', 'c2', 'idle');
      await waitUntil(() => changes > before, 2_000, 'the removal to be announced');
      await writer.close();
    } finally {
      await watch.stop();
      await watcher.close();
    }
  });
});
