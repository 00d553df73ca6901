import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailableReason } from '../helpers/root.js';
import { startClusterLab, type ClusterLab, type ClusterProcesses, type ClusterHubName, type ClusterMemberName } from '../helpers/cluster-processes.js';
import type { ClusterTopology } from '../helpers/cluster-topology.js';
import { execIn } from '../helpers/netns.js';
import { longestReplyGap, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { postgresUnavailableReason, type PostgresServer } from '../helpers/postgres-server.js';

const reason = netnsUnavailableReason() ?? postgresUnavailableReason();
if (reason) console.warn(`skipping the two-hub cluster netns tests: ${reason}`);

/** With default timings, a member of a killed hub passes traffic through another hub within this. */
const FAILOVER_BOUND_MS = 5_000;
/** A registry restart may cost the running tunnels no more than this. */
const REGISTRY_RESTART_BOUND_MS = 1_000;

interface HubListing { name: string; endpoint: string; state: string; members: number }

describe.skipIf(reason !== null)('two hubs on one PostgreSQL: hub (198.51.100.1) and hub2 (198.51.100.2), c1 and c2', () => {
  let topo: ClusterTopology;
  let pg: PostgresServer;
  let lab: ClusterLab | undefined;
  let cluster: ClusterProcesses;
  const hubs = new Map<string, CliProcess>();
  const members = new Map<string, CliProcess>();

  // Default keepalive and liveness timings: the failover bound holds with them.
  const serve = async (name: ClusterHubName): Promise<void> => {
    hubs.set(name, await cluster.serve(name));
  };
  const hubList = async (from: ClusterHubName): Promise<HubListing[]> => JSON.parse(await cluster.hubCli(from, ['hubs', '--json'])) as HubListing[];
  const hubTunnel = (member: ClusterMemberName) => cluster.hubTunnel(member);
  const pingOk = (from: ClusterHubName | ClusterMemberName, target: string): Promise<boolean> => cluster.pingOk(from, target);

  beforeAll(async () => {
    lab = await startClusterLab('tunnel-cluster-netns-');
    ({ topo, pg, cluster } = lab);
  });
  afterAll(async () => {
    for (const proc of [...members.values(), ...hubs.values()]) await proc.stop('SIGKILL');
    lab?.close();
  });

  it('c1 joins hub and c2 joins hub2; they reach each other through the hub<->hub link, and hub2 pings c1', async () => {
    await serve('hub');
    await serve('hub2');
    members.set('c1', await cluster.join('c1', 'hub'));
    members.set('c2', await cluster.join('c2', 'hub2'));
    const c1 = hubTunnel('c1');
    const c2 = hubTunnel('c2');
    expect(c1?.remote).toBe(topo.addresses.hub);
    expect(c2?.remote).toBe(topo.addresses.hub2);
    await waitUntil(() => pingOk('c1', cluster.innerOf('c2')), 15_000, 'c1 -> c2 through hub, the hub<->hub link and hub2');
    await waitUntil(() => pingOk('c2', cluster.innerOf('c1')), 5_000, 'c2 -> c1');
    await waitUntil(() => pingOk('hub2', cluster.innerOf('c1')), 5_000, 'hub2 -> c1');
    expect(execIn(topo.hub, 'ip', ['-o', 'link', 'show'])).toMatch(/hub-hub2/);
    expect(cluster.clientStatus('c1').hub).toEqual({ name: 'hub', url: `ws://${topo.addresses.hub}:8443` });
    const listing = await hubList('hub2');
    expect(listing.map((h) => [h.name, h.state, h.members])).toEqual([['hub', 'up', 1], ['hub2', 'up', 1]]);
  });

  it('a peer<->peer link across hubs: `link add c1 c2` on hub2 gives c1 (on hub) and c2 (on hub2) a direct tunnel they ping over; `link remove` takes both ends down', async () => {
    await cluster.hubCli('hub2', ['link', 'add', 'c1', 'c2']);
    const linkOf = (member: ClusterMemberName) =>
      cluster.clientStatus(member).tunnels.find((t) => t.name === (member === 'c1' ? 'tnl-c2' : 'tnl-c1'));
    const c1End = await waitUntil(() => linkOf('c1'), 15_000, "c1's end of the link, issued by hub");
    const c2End = await waitUntil(() => linkOf('c2'), 15_000, "c2's end of the link, issued by hub2");
    // The link runs straight between the members' public addresses, not through either hub.
    expect(c1End.remote).toBe(topo.addresses.c2);
    expect(c2End.remote).toBe(topo.addresses.c1);
    expect(c1End.peerInner).toBe(c2End.inner.split('/')[0]);
    await waitUntil(() => pingOk('c1', c1End.peerInner), 15_000, 'c1 -> c2 over their link');
    await waitUntil(() => pingOk('c2', c2End.peerInner), 5_000, 'c2 -> c1 over their link');
    await cluster.hubCli('hub', ['link', 'remove', 'c1', 'c2']);
    await waitUntil(() => linkOf('c1') === undefined && linkOf('c2') === undefined, 10_000, 'both ends of the link gone');
  });

  it(`kill -9 hub: c1 moves to hub2 with the same /30 and inner addresses, and pings resume within ${FAILOVER_BOUND_MS} ms`, async () => {
    const before = hubTunnel('c1');
    const c2Inner = cluster.innerOf('c2');
    const { gapMs, replies } = await longestReplyGap(topo.c1, c2Inner, 12, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await hubs.get('hub')?.stop('SIGKILL');
      hubs.delete('hub');
    });
    console.log(`kill -9 of c1's hub: longest gap between c1 -> c2 ping replies ${gapMs} ms (${replies} replies)`);
    expect(replies).toBeGreaterThan(100);
    expect(gapMs).toBeLessThan(FAILOVER_BOUND_MS);
    const after = hubTunnel('c1');
    expect(after).toMatchObject({ remote: topo.addresses.hub2, inner: before?.inner, peerInner: before?.peerInner });
    expect(cluster.clientStatus('c1').hub).toEqual({ name: 'hub2', url: `ws://${topo.addresses.hub2}:8443` });
    const listing = await hubList('hub2');
    expect(listing.find((h) => h.name === 'hub2')?.members).toBe(2);
  });

  it('hub comes back: `hubs` shows both up, nothing is lost, and hub reaches c1 through hub2', async () => {
    const peersBefore = await cluster.hubCli('hub2', ['peer', 'list', '--json']);
    await serve('hub');
    await waitUntil(async () => (await hubList('hub')).every((h) => h.state === 'up'), 15_000, 'both hubs up');
    expect(await cluster.hubCli('hub', ['peer', 'list', '--json'])).toBe(peersBefore);
    await waitUntil(() => pingOk('hub', cluster.innerOf('c1')), 15_000, 'hub -> c1 through hub2');
    expect(hubTunnel('c1')?.remote).toBe(topo.addresses.hub2);
  });

  it(`PostgreSQL restarts while pings run: no loss beyond ${REGISTRY_RESTART_BOUND_MS} ms, and the hubs reconnect`, async () => {
    const c2Inner = cluster.innerOf('c2');
    const { gapMs, replies } = await longestReplyGap(topo.c1, c2Inner, 8, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      pg.stop('fast');
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      pg.start();
    });
    console.log(`PostgreSQL restart: longest gap between c1 -> c2 ping replies ${gapMs} ms (${replies} replies)`);
    expect(gapMs).toBeLessThanOrEqual(REGISTRY_RESTART_BOUND_MS);
    await waitUntil(async () => (await hubList('hub')).every((h) => h.state === 'up'), 15_000, 'heartbeats written again');
    // A change made after the restart reaches both hubs again.
    await cluster.hubCli('hub', ['peer', 'add', 'c3']);
    expect(await cluster.hubCli('hub2', ['peer', 'list', '--json'])).toMatch(/"c3"/);
  });
});
