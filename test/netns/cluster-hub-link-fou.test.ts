import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailableReason } from '../helpers/root.js';
import { startClusterLab, type ClusterLab, type ClusterProcesses, type ClusterHubName, type ClusterMemberName } from '../helpers/cluster-processes.js';
import type { ClusterTopology } from '../helpers/cluster-topology.js';
import { execIn } from '../helpers/netns.js';
import { longestReplyGap, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { postgresUnavailableReason } from '../helpers/postgres-server.js';

const reason = netnsUnavailableReason() ?? postgresUnavailableReason();
if (reason) console.warn(`skipping the hub link FOU fallback netns tests: ${reason}`);

/** Path keepalives every second: an unanswered link reads down after 3 s (3 retries). */
const PATH_KEEPALIVE_S = 1;
/** The fallback's bound here: 3 unanswered keepalives, a check a second, the re-lay, the first FOU answer, and slack. */
const FALLBACK_BOUND_MS = 10_000;

interface HubListing { name: string; link: { encap: string; reason: string; pinned: boolean } | null }

describe.skipIf(reason !== null)('a hub<->hub link between hubs whose path drops GRE (IP protocol 47) falls back to FOU', () => {
  let topo: ClusterTopology;
  let lab: ClusterLab | undefined;
  let cluster: ClusterProcesses;
  const procs = new Map<string, CliProcess>();

  const hubLink = async (from: ClusterHubName): Promise<HubListing['link']> =>
    (JSON.parse(await cluster.hubCli(from, ['hubs', '--json'])) as HubListing[]).find((h) => h.name !== from)?.link ?? null;
  const tunnelEncap = (member: ClusterMemberName): string | undefined =>
    (cluster.clientStatus(member).tunnels as { name: string; encap?: string }[]).find((t) => t.name === 'tnl-hub')?.encap;

  beforeAll(async () => {
    lab = await startClusterLab('tunnel-hub-link-fou-');
    ({ topo, cluster } = lab);
  });
  afterAll(async () => {
    for (const proc of procs.values()) await proc.stop('SIGKILL');
    lab?.close();
  });

  it('c1 (on FOU to hub, the socket the hub link will share) and c2 (GRE to hub2) ping each other over the GRE hub link', async () => {
    for (const hub of ['hub', 'hub2'] as const) procs.set(hub, await cluster.serve(hub, ['--path-keepalive', String(PATH_KEEPALIVE_S)]));
    procs.set('c1', await cluster.join('c1', 'hub'));
    procs.set('c2', await cluster.join('c2', 'hub2'));
    await cluster.hubCli('hub', ['peer', 'pin', 'c1', '--encap', 'fou']);
    await waitUntil(() => tunnelEncap('c1') === 'fou', 15_000, "c1's tunnel to hub on fou");
    await waitUntil(() => cluster.pingOk('c1', cluster.innerOf('c2')), 15_000, 'c1 -> c2 over the GRE hub link');
    expect(await hubLink('hub')).toEqual({ encap: 'gre', reason: 'default', pinned: false });
  });

  it(`GRE between hub and hub2 dropped: the link moves to FOU and c1 <-> c2 pings resume within ${FALLBACK_BOUND_MS} ms; hubs --json says why`, async () => {
    let blockedAt = 0;
    let switchedMs = -1;
    const { gapMs, replies } = await longestReplyGap(topo.c1, cluster.innerOf('c2'), 14, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // Only between the two hubs: the members' GRE to their hubs still passes.
      execIn(topo.hub, 'nft', ['-f', '-'], `table ip hubgre {
  chain out { type filter hook output priority 0; ip daddr ${topo.addresses.hub2} meta l4proto 47 drop; }
  chain in { type filter hook input priority 0; ip saddr ${topo.addresses.hub2} meta l4proto 47 drop; }
}
`);
      blockedAt = Date.now();
      await waitUntil(async () => (await hubLink('hub2'))?.encap === 'fou', FALLBACK_BOUND_MS + 5_000, 'the registry to move the hub link to fou');
      switchedMs = Date.now() - blockedAt;
    });
    console.log(`GRE dropped between the hubs (path keepalive ${PATH_KEEPALIVE_S} s): the registry said fou after ≤${switchedMs} ms; `
      + `longest gap between c1 -> c2 ping replies ${gapMs} ms (${replies} replies)`);
    expect(gapMs).toBeLessThan(FALLBACK_BOUND_MS);
    expect(replies).toBeGreaterThan(200);
    expect(await hubLink('hub')).toEqual({ encap: 'fou', reason: 'gre-unanswered', pinned: false });
    expect(await hubLink('hub2')).toEqual({ encap: 'fou', reason: 'gre-unanswered', pinned: false });
    expect(await cluster.pingOk('c2', cluster.innerOf('c1'))).toBe(true);
    // The running hub's status shows the link up on fou, and traffic on it.
    const status = JSON.parse(await cluster.hubCli('hub', ['status', '--json'])) as { hubLinks: { tunnel: string; encap: string; state: string; counters: { rx: { packets: number } } }[] };
    expect(status.hubLinks).toEqual([expect.objectContaining({ tunnel: 'hub-hub2', encap: 'fou', reason: 'gre-unanswered', state: 'up' })]);
    expect(status.hubLinks[0]?.counters.rx.packets).toBeGreaterThan(0);
    // Both members kept their own paths; one of the hubs logged the switch, naming both hubs.
    expect([tunnelEncap('c1'), tunnelEncap('c2')]).toEqual(['fou', 'gre']);
    expect(`${procs.get('hub')?.output()}${procs.get('hub2')?.output()}`).toMatch(/hub<->hub link hub<->hub2 moved from gre to fou: gre-unanswered|hub<->hub link hub2<->hub moved from gre to fou: gre-unanswered/);
  });

  it('pinning the link to gre breaks c1 <-> c2 again; auto lets it fall back to fou and they ping again', async () => {
    expect(await cluster.hubCli('hub2', ['hubs', 'link', 'hub', 'hub2', '--encap', 'gre'])).toBe('hub<->hub2: gre (pinned)\n');
    await waitUntil(async () => !(await cluster.pingOk('c1', cluster.innerOf('c2'))), 10_000, 'c1 -> c2 failing on the pinned gre link');
    expect(await hubLink('hub')).toEqual({ encap: 'gre', reason: 'pinned', pinned: true });
    const freed = Date.now();
    await cluster.hubCli('hub', ['hubs', 'link', 'hub', 'hub2', '--encap', 'auto']);
    await waitUntil(() => cluster.pingOk('c1', cluster.innerOf('c2')), FALLBACK_BOUND_MS + 5_000, 'c1 -> c2 again once the link is free');
    console.log(`after --encap auto, c1 -> c2 answered again ${Date.now() - freed} ms later`);
    expect(await hubLink('hub')).toEqual({ encap: 'fou', reason: 'gre-unanswered', pinned: false });
  });

  it('kill -9 hub2: the silent link stays as it is (hub2 looks fresh for seconds, but writes no newer heartbeat)', async () => {
    await procs.get('hub2')?.stop('SIGKILL');
    procs.delete('hub2');
    // Past the 3 s quiet period, a check, and the 5 s after which hub2 reads down anyway.
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    expect(await hubLink('hub')).toEqual({ encap: 'fou', reason: 'gre-unanswered', pinned: false });
    expect(procs.get('hub')?.output()).not.toMatch(/moved from fou to gre/);
  });
});
