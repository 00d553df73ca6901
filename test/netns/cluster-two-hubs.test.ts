import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailableReason } from '../helpers/root.js';
import { createClusterTopology, type ClusterTopology } from '../helpers/cluster-topology.js';
import { execIn, execInAsync } from '../helpers/netns.js';
import { longestReplyGap, runCliIn, serveRuntime, startCli, until, type CliProcess } from '../helpers/control-processes.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';

const reason = netnsUnavailableReason() ?? postgresUnavailableReason();
if (reason) console.warn(`skipping the two-hub cluster netns tests: ${reason}`);

/** With default timings, a member of a killed hub passes traffic through another hub within this. */
const FAILOVER_BOUND_MS = 5_000;
/** A registry restart may cost the running tunnels no more than this. */
const REGISTRY_RESTART_BOUND_MS = 1_000;

interface HubListing { name: string; endpoint: string; state: string; members: number }
interface ClientStatus { hub?: { name: string; url: string }; tunnels: { name: string; inner: string; peerInner: string; remote: string }[] }

describe.skipIf(reason !== null)('two hubs on one PostgreSQL: hub (198.51.100.1) and hub2 (198.51.100.2), c1 and c2', () => {
  let topo: ClusterTopology;
  let pg: PostgresServer;
  let dir: string;
  let registry: string;
  const hubs = new Map<string, CliProcess>();
  const members = new Map<string, CliProcess>();
  const state = (name: string): string => join(dir, name);

  const serve = async (name: 'hub' | 'hub2'): Promise<CliProcess> => {
    const address = name === 'hub' ? topo.addresses.hub : topo.addresses.hub2;
    // Default keepalive and liveness timings: the failover bound holds with them.
    const proc = startCli(name === 'hub' ? topo.hub : topo.hub2, 'server', ['--state', state(name), 'serve', '--listen', address]);
    await until(() => serveRuntime(state(name))?.pid === proc.child.pid, 20_000, `${name} listening: ${proc.output()}`);
    hubs.set(name, proc);
    return proc;
  };
  const hubList = async (from: 'hub' | 'hub2'): Promise<HubListing[]> =>
    JSON.parse(await runCliIn(from === 'hub' ? topo.hub : topo.hub2, 'server', ['--state', state(from), 'hubs', '--json'])) as HubListing[];
  const clientStatus = (member: 'c1' | 'c2'): ClientStatus =>
    JSON.parse(execIn(member === 'c1' ? topo.c1 : topo.c2, process.execPath, [join(process.cwd(), 'dist/client/cli.js'), 'status', '--json', '--state', state(member)])) as ClientStatus;
  const hubTunnel = (member: 'c1' | 'c2'): ClientStatus['tunnels'][number] | undefined => clientStatus(member).tunnels.find((t) => t.name === 'tnl-hub');
  const pingOk = async (ns: string, target: string): Promise<boolean> => (await execInAsync(ns, 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0;

  beforeAll(async () => {
    topo = createClusterTopology();
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-cluster-netns-'));
    // The socket folder is a path every namespace sees: the hubs reach PostgreSQL through it.
    registry = await pg.createDatabase('cluster');
  });
  afterAll(async () => {
    for (const proc of [...members.values(), ...hubs.values()]) await proc.stop('SIGKILL');
    topo?.destroy();
    pg?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('c1 joins hub and c2 joins hub2; they reach each other through the hub<->hub link, and hub2 pings c1', async () => {
    await runCliIn(topo.hub, 'server', ['--state', state('hub'), 'init', '--registry', registry, '--hub-name', 'hub', '--endpoint', topo.addresses.hub, '--pool', '10.1.12.0/24']);
    await runCliIn(topo.hub2, 'server', ['--state', state('hub2'), 'init', '--registry', registry, '--hub-name', 'hub2', '--endpoint', topo.addresses.hub2]);
    await serve('hub');
    await serve('hub2');
    for (const [member, hub, ns, address] of [['c1', 'hub', topo.c1, topo.addresses.hub], ['c2', 'hub2', topo.c2, topo.addresses.hub2]] as const) {
      const invite = (await runCliIn(hub === 'hub' ? topo.hub : topo.hub2, 'server', ['--state', state(hub), 'invite', 'create'])).trim();
      const proc = startCli(ns, 'client', ['join', `ws://${address}:8443`, '--token', invite, '--name', member, '--state', state(member)]);
      members.set(member, proc);
      await until(() => /tnl-hub up/.test(proc.output()), 20_000, `${member} join: ${proc.output()}`);
    }
    const c1 = hubTunnel('c1');
    const c2 = hubTunnel('c2');
    expect(c1?.remote).toBe(topo.addresses.hub);
    expect(c2?.remote).toBe(topo.addresses.hub2);
    const c1Inner = c1?.inner.split('/')[0] as string;
    const c2Inner = c2?.inner.split('/')[0] as string;
    await until(() => pingOk(topo.c1, c2Inner), 15_000, 'c1 -> c2 through hub, the hub<->hub link and hub2');
    await until(() => pingOk(topo.c2, c1Inner), 5_000, 'c2 -> c1');
    await until(() => pingOk(topo.hub2, c1Inner), 5_000, 'hub2 -> c1');
    expect(execIn(topo.hub, 'ip', ['-o', 'link', 'show'])).toMatch(/hub-hub2/);
    expect(clientStatus('c1').hub).toEqual({ name: 'hub', url: `ws://${topo.addresses.hub}:8443` });
    const listing = await hubList('hub2');
    expect(listing.map((h) => [h.name, h.state, h.members])).toEqual([['hub', 'up', 1], ['hub2', 'up', 1]]);
  });

  it('a peer<->peer link across hubs: `link add c1 c2` on hub2 gives c1 (on hub) and c2 (on hub2) a direct tunnel they ping over; `link remove` takes both ends down', async () => {
    await runCliIn(topo.hub2, 'server', ['--state', state('hub2'), 'link', 'add', 'c1', 'c2']);
    const linkOf = (member: 'c1' | 'c2'): ClientStatus['tunnels'][number] | undefined =>
      clientStatus(member).tunnels.find((t) => t.name === (member === 'c1' ? 'tnl-c2' : 'tnl-c1'));
    const c1End = await until(() => linkOf('c1'), 15_000, "c1's end of the link, issued by hub");
    const c2End = await until(() => linkOf('c2'), 15_000, "c2's end of the link, issued by hub2");
    // The link runs straight between the members' public addresses, not through either hub.
    expect(c1End.remote).toBe(topo.addresses.c2);
    expect(c2End.remote).toBe(topo.addresses.c1);
    expect(c1End.peerInner).toBe(c2End.inner.split('/')[0]);
    await until(() => pingOk(topo.c1, c1End.peerInner), 15_000, 'c1 -> c2 over their link');
    await until(() => pingOk(topo.c2, c2End.peerInner), 5_000, 'c2 -> c1 over their link');
    await runCliIn(topo.hub, 'server', ['--state', state('hub'), 'link', 'remove', 'c1', 'c2']);
    await until(() => linkOf('c1') === undefined && linkOf('c2') === undefined, 10_000, 'both ends of the link gone');
  });

  it(`kill -9 hub: c1 moves to hub2 with the same /30 and inner addresses, and pings resume within ${FAILOVER_BOUND_MS} ms`, async () => {
    const before = hubTunnel('c1');
    const c2Inner = hubTunnel('c2')?.inner.split('/')[0] as string;
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
    expect(clientStatus('c1').hub).toEqual({ name: 'hub2', url: `ws://${topo.addresses.hub2}:8443` });
    const listing = await hubList('hub2');
    expect(listing.find((h) => h.name === 'hub2')?.members).toBe(2);
  });

  it('hub comes back: `hubs` shows both up, nothing is lost, and hub reaches c1 through hub2', async () => {
    const peersBefore = await runCliIn(topo.hub2, 'server', ['--state', state('hub2'), 'peer', 'list', '--json']);
    await serve('hub');
    await until(async () => (await hubList('hub')).every((h) => h.state === 'up'), 15_000, 'both hubs up');
    expect(await runCliIn(topo.hub, 'server', ['--state', state('hub'), 'peer', 'list', '--json'])).toBe(peersBefore);
    const c1Inner = hubTunnel('c1')?.inner.split('/')[0] as string;
    await until(() => pingOk(topo.hub, c1Inner), 15_000, 'hub -> c1 through hub2');
    expect(hubTunnel('c1')?.remote).toBe(topo.addresses.hub2);
  });

  it(`PostgreSQL restarts while pings run: no loss beyond ${REGISTRY_RESTART_BOUND_MS} ms, and the hubs reconnect`, async () => {
    const c2Inner = hubTunnel('c2')?.inner.split('/')[0] as string;
    const { gapMs, replies } = await longestReplyGap(topo.c1, c2Inner, 8, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      pg.stop('fast');
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      pg.start();
    });
    console.log(`PostgreSQL restart: longest gap between c1 -> c2 ping replies ${gapMs} ms (${replies} replies)`);
    expect(gapMs).toBeLessThanOrEqual(REGISTRY_RESTART_BOUND_MS);
    await until(async () => (await hubList('hub')).every((h) => h.state === 'up'), 15_000, 'heartbeats written again');
    // A change made after the restart reaches both hubs again.
    await runCliIn(topo.hub, 'server', ['--state', state('hub'), 'peer', 'add', 'c3']);
    expect(await runCliIn(topo.hub2, 'server', ['--state', state('hub2'), 'peer', 'list', '--json'])).toMatch(/"c3"/);
  });
});
