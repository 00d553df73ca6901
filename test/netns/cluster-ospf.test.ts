import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterLab, type ClusterLab, type ClusterProcesses } from '../helpers/cluster-processes.js';
import type { ClusterTopology } from '../helpers/cluster-topology.js';
import { type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { frrUnavailableReason, startFrrRouter, type FrrRouter } from '../helpers/frr-daemons.js';
import { execIn } from '../helpers/netns.js';
import { postgresUnavailableReason } from '../helpers/postgres-server.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const reason = netnsUnavailableReason() ?? postgresUnavailableReason() ?? frrUnavailableReason();
if (reason) console.warn(`SKIPPED OSPF over the hub<->hub link (FRR) netns tests: ${reason}`);

/**
 * ospfd.conf for the tunnels of one router: point-to-point, fast hellos, the whole pool in area 0.
 * The tunnels carry peer addresses (`inet A peer B/30`), which ospfd runs as unnumbered links that
 * advertise no subnet: a hub redistributes its connected /30s from the pool (its members' and the
 * hub<->hub link's), never its public network.
 */
function ospfConfig(routerId: string, interfaces: string[], hub: boolean): string {
  return [
    ...(hub ? ['ip prefix-list POOL seq 5 permit 10.1.12.0/24 le 32', 'route-map POOL permit 10', ' match ip address prefix-list POOL', '!'] : []),
    ...interfaces.flatMap((name) => [`interface ${name}`, ' ip ospf network point-to-point', ' ip ospf hello-interval 1', ' ip ospf dead-interval 4', '!']),
    'router ospf',
    ` ospf router-id ${routerId}`,
    ' network 10.1.12.0/24 area 0',
    ...(hub ? [' redistribute connected route-map POOL'] : []),
    '',
  ].join('\n');
}

describe.skipIf(reason !== null)('two hubs under --routing none: OSPF over the hub<->hub link routes between the hubs\' members', () => {
  let topo: ClusterTopology;
  let lab: ClusterLab | undefined;
  let cluster: ClusterProcesses;
  const processes: CliProcess[] = [];
  const routers: FrrRouter[] = [];
  const ospfRoutes = (ns: string): string => execIn(ns, 'ip', ['route', 'show', 'proto', 'ospf']);

  beforeAll(async () => {
    lab = await startClusterLab('tunnel-cluster-ospf-');
    ({ topo, cluster } = lab);
  });
  afterAll(async () => {
    for (const router of routers) await router.stop();
    for (const proc of processes) await proc.stop('SIGKILL');
    lab?.close();
  });

  it('the hubs lay their hub<->hub tunnel but route nothing over it, and push members no routes', async () => {
    for (const hub of ['hub', 'hub2'] as const) {
      // With --routing none a hub leaves forwarding to the system, as for any router a daemon runs.
      execIn(cluster.namespace(hub), 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      processes.push(await cluster.serve(hub, ['--routing', 'none']));
    }
    processes.push(await cluster.join('c1', 'hub'));
    processes.push(await cluster.join('c2', 'hub2'));
    await waitUntil(() => /hub-hub2/.test(execIn(topo.hub, 'ip', ['-o', 'link', 'show'])) && /hub-hub\b/.test(execIn(topo.hub2, 'ip', ['-o', 'link', 'show'])), 15_000, 'the hub<->hub tunnel at both hubs');
    // Only the tunnel's own /30, which the kernel adds with its address.
    expect(execIn(topo.hub, 'ip', ['route', 'show', 'dev', 'hub-hub2']).trim().split('\n')).toEqual([expect.stringMatching(/proto kernel scope link/)]);
    expect(execIn(topo.hub, 'ip', ['route', 'get', cluster.innerOf('c2')])).not.toMatch(/dev hub-hub2/);
    expect(execIn(topo.c1, 'ip', ['route', 'show', '10.1.12.0/24'])).toBe('');
    expect(await cluster.pingOk('c1', cluster.innerOf('c2'))).toBe(false);
  });

  it('ospfd on both hubs and both members reaches Full over every tunnel; c1 and c2 reach each other and hub2 reaches c1 on its routes', async () => {
    const start = performance.now();
    routers.push(await startFrrRouter(topo.hub, ospfConfig('10.255.0.1', ['tnl-c1', 'hub-hub2'], true)));
    routers.push(await startFrrRouter(topo.hub2, ospfConfig('10.255.0.2', ['tnl-c2', 'hub-hub'], true)));
    routers.push(await startFrrRouter(topo.c1, ospfConfig('10.255.0.11', ['tnl-hub'], false)));
    routers.push(await startFrrRouter(topo.c2, ospfConfig('10.255.0.12', ['tnl-hub'], false)));
    for (const router of routers.slice(0, 2)) {
      await waitUntil(async () => ((await router.vtysh('show ip ospf neighbor')).match(/Full/g) ?? []).length === 2, 30_000,
        `two Full neighbours on each hub: ${await router.vtysh('show ip ospf neighbor')}`);
    }
    const fullMs = performance.now() - start;
    const c1 = cluster.innerOf('c1');
    const c2 = cluster.innerOf('c2');
    await waitUntil(() => /dev hub-hub2/.test(execIn(topo.hub, 'ip', ['route', 'get', c2])), 20_000, "hub's OSPF route to c2");
    await waitUntil(() => cluster.pingOk('c1', c2), 15_000, 'c1 -> c2 on OSPF routes');
    console.log(`ospfd over the hub<->hub link: adjacencies Full ${Math.round(fullMs)} ms after start, c1 -> c2 answered ${Math.round(performance.now() - start)} ms after start`);
    expect(ospfRoutes(topo.hub)).toMatch(/ via 10\.1\.12\.\d+ dev hub-hub2 /);
    expect(ospfRoutes(topo.hub2)).toMatch(/ via 10\.1\.12\.\d+ dev hub-hub /);
    expect(await cluster.pingOk('c2', c1)).toBe(true);
    expect(await cluster.pingOk('hub2', c1)).toBe(true);
  });
});
