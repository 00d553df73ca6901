import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHubState } from '../../server/hub-state/init-hub-state.js';
import type { Registry } from '../../server/registry/registry.js';
import { clusterHub, removeClusterHubs, type ClusterTestHub } from '../helpers/cluster-hubs.js';
import { registrySnapshot, runHubCli } from '../helpers/hub-cli.js';
import { waitUntil } from '../helpers/wait-until.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';

const reason = postgresUnavailableReason();
if (reason) console.warn(`skipping the hub link encapsulation tests: ${reason}`);

/** Path keepalives every second: a link reads unanswered after 3 s (3 retries). */
const KEEPALIVE_S = 1;
/** How long a switch may take: 3 unanswered intervals, a check each second, and slack for a loaded machine. */
const SWITCH_MS = 3 * KEEPALIVE_S * 1000 + 4_000;
/** How long a link that must not move is watched: longer than a switch takes when due (3-4 s here). */
const STAY_MS = 5_000;

describe.skipIf(reason !== null)('hub<->hub links falling back between GRE and FOU (loopback, PostgreSQL)', () => {
  let server: PostgresServer;
  let a: ClusterTestHub;
  let b: ClusterTestHub;
  let registry: Registry;
  beforeAll(async () => {
    server = await startPostgres();
    const url = await server.createDatabase('hublinkencap');
    a = await clusterHub(url, 'hub', '127.0.0.1', { pool: '10.1.12.0/24', paths: { keepaliveInterval: KEEPALIVE_S } });
    b = await clusterHub(url, 'hub2', '127.0.0.2', { paths: { keepaliveInterval: KEEPALIVE_S } });
    await a.start();
    await b.start();
    registry = a.hub?.registry as Registry;
    await waitUntil(() => a.datapath.tunnels.has('hub-hub2') && b.datapath.tunnels.has('hub-hub'), 5_000, 'both ends of the hub link');
  });
  afterAll(async () => {
    await removeClusterHubs([a, b].filter(Boolean));
    server?.close();
  });

  const link = async () => (await registry.hubLinks.list())[0];
  const encapSwitches = async () => (await registry.audit.list()).filter((e) => e.action === 'hub.link.encap');
  const bothRun = (encap: string) => a.datapath.tunnels.get('hub-hub2')?.encap === encap && b.datapath.tunnels.get('hub-hub')?.encap === encap;

  it('move an unanswered GRE link to FOU once, though both hubs notice, and re-lay it on both with the same /30 and key', async () => {
    const gre = await link();
    expect(gre).toMatchObject({ encap: 'gre', encapReason: 'default', pinned: false });
    const greEnd = a.datapath.tunnels.get('hub-hub2');
    const started = Date.now();
    a.datapath.unanswered.add('gre');
    b.datapath.unanswered.add('gre');
    await waitUntil(async () => (await link())?.encap === 'fou', SWITCH_MS, 'the registry to move the link to fou');
    console.info(`hub link moved to fou ${Date.now() - started} ms after GRE went unanswered (keepalive ${KEEPALIVE_S} s)`);
    await waitUntil(() => bothRun('fou'), 2_000, 'both hubs to re-lay the link as fou');
    expect(await link()).toMatchObject({ encap: 'fou', encapReason: 'gre-unanswered', pinned: false, prefix: gre?.prefix, greKey: gre?.greKey });
    expect(a.datapath.tunnels.get('hub-hub2')).toEqual({ ...greEnd, encap: 'fou', localPort: 4754, remotePort: 4754, mtu: 1464 });
    expect(b.datapath.tunnels.get('hub-hub')).toMatchObject({ encap: 'fou', localPort: 4754, remotePort: 4754, address: `${gre?.inner[1]}/30` });
    // FOU answers: it stays, and it was switched once.
    await new Promise((resolve) => setTimeout(resolve, STAY_MS));
    expect((await link())?.encap).toBe('fou');
    expect(await encapSwitches()).toHaveLength(1);
    // `hubs --json` shows it from either hub.
    const rows = JSON.parse((await runHubCli(b.stateDir, ['hubs', '--json'])).stdout) as { name: string; link: unknown }[];
    expect(rows.map((r) => [r.name, r.link])).toEqual([['hub', { encap: 'fou', reason: 'gre-unanswered', pinned: false }], ['hub2', null]]);
    // So does `status`, from the running hub, with the tunnel's liveness.
    const status = JSON.parse((await runHubCli(a.stateDir, ['status', '--json'])).stdout) as { hub: { running: boolean }; hubLinks: unknown[] };
    expect(status.hub.running).toBe(true);
    expect(status.hubLinks).toEqual([{
      hub: 'hub2', tunnel: 'hub-hub2', prefix: gre?.prefix, inner: gre?.inner[0], peerInner: gre?.inner[1],
      encap: 'fou', reason: 'gre-unanswered', pinned: false, state: 'up', counters: expect.objectContaining({ rx: expect.any(Object) }), encryption: null,
    }]);
    expect((await runHubCli(b.stateDir, ['status'])).stdout).toMatch(/hub-hub \(hub\)\s+\S+\s+fou \(gre-unanswered\)\s+up/);
  });

  it('move it back to GRE when FOU goes unanswered too (a pair blocked both ways alternates)', async () => {
    a.datapath.unanswered.add('fou');
    await waitUntil(async () => (await link())?.encap === 'gre', SWITCH_MS, 'the registry to move the link back to gre');
    expect(await link()).toMatchObject({ encap: 'gre', encapReason: 'fou-unanswered' });
    await waitUntil(() => bothRun('gre'), 2_000, 'both hubs to re-lay the link as gre');
    a.datapath.unanswered.delete('fou');
    await waitUntil(async () => (await link())?.encap === 'fou' && bothRun('fou'), SWITCH_MS + 2_000, 'the link on fou again');
  });

  it('never move a pinned link; `auto` lets the hubs switch it again', async () => {
    const pinned = await runHubCli(a.stateDir, ['hubs', 'link', 'hub2', 'hub', '--encap', 'gre']);
    expect(pinned).toMatchObject({ code: 0, stdout: 'hub<->hub2: gre (pinned)\n' });
    await waitUntil(() => bothRun('gre'), 2_000, 'both hubs to re-lay the pinned link as gre');
    const switches = (await encapSwitches()).length;
    await new Promise((resolve) => setTimeout(resolve, STAY_MS));
    expect(await link()).toMatchObject({ encap: 'gre', encapReason: 'pinned', pinned: true });
    expect(bothRun('gre')).toBe(true);
    expect(await encapSwitches()).toHaveLength(switches);
    const freed = JSON.parse((await runHubCli(b.stateDir, ['hubs', 'link', 'hub', 'hub2', '--encap', 'auto', '--json'])).stdout) as unknown;
    expect(freed).toMatchObject({ hubs: ['hub', 'hub2'], encap: 'gre', reason: 'unpinned', pinned: false });
    await waitUntil(async () => (await link())?.encap === 'fou' && bothRun('fou'), SWITCH_MS + 2_000, 'the freed link back on fou');
    expect(await link()).toMatchObject({ encapReason: 'gre-unanswered', pinned: false });
  });

  it('refuse bad pins with one coded line each, changing nothing in the registry', async () => {
    // Heartbeats move on their own; everything else must be exactly as it was.
    const snapshot = async () => {
      const { tables } = await registry.exportTables();
      return { ...tables, hubs: (tables.hubs as { heartbeat_at: unknown }[]).map((row) => ({ ...row, heartbeat_at: null })) };
    };
    const before = await snapshot();
    const cases: [string[], RegExp][] = [
      [['hubs', 'link', 'hub', 'hub9', '--encap', 'gre'], /^tunnel-hub: ERR_HUB_NOT_FOUND: no hub named "hub9"/],
      [['hubs', 'link', 'hub', 'hub2', '--encap', 'gue'], /^tunnel-hub: ERR_INVALID_ARGUMENT: --encap takes gre, fou or auto, not "gue"/],
      [['hubs', 'link', 'hub2', 'hub2', '--encap', 'fou'], /^tunnel-hub: ERR_INVALID_ARGUMENT: a hub link joins two hubs; "hub2" was named twice/],
    ];
    const missing = await runHubCli(a.stateDir, ['hubs', 'link', 'hub', 'hub2']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe("error: required option '--encap <encap>' not specified");
    for (const [args, message] of cases) {
      const result = await runHubCli(a.stateDir, args);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    const lone = mkdtempSync(join(tmpdir(), 'tunnel-lone-hub-'));
    try {
      await initHubState(join(lone, 'state'), { endpoint: '198.51.100.1' });
      const loneBefore = await registrySnapshot(join(lone, 'state'));
      const result = await runHubCli(join(lone, 'state'), ['hubs', 'link', 'hub', 'hub2', '--encap', 'fou']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^tunnel-hub: ERR_HUB_NOT_FOUND: this hub runs alone: hub links join the hubs of a cluster[^\n]*\n$/);
      expect(await registrySnapshot(join(lone, 'state'))).toEqual(loneBefore);
    } finally {
      rmSync(lone, { recursive: true, force: true });
    }
    expect(await snapshot()).toEqual(before);
  });
});
