import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';
import { runCliIn, startCli, startServe, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { frrUnavailableReason, startFrrRouter, type FrrRouter } from '../helpers/frr-daemons.js';
import { createMeshTopology, type MeshTopology } from '../helpers/mesh-topology.js';
import { execIn, execInAsync } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const reason = netnsUnavailableReason() ?? frrUnavailableReason();
if (reason) console.warn(`SKIPPED OSPF over the mesh (FRR) netns tests: ${reason}`);

const HUB = '198.51.100.1';

/** ospfd.conf as the README gives it: point-to-point tunnels, fast hellos, the tunnel pool and the LAN in area 0. */
function ospfConfig(routerId: string, interfaces: string[], networks: string[]): string {
  return [
    ...interfaces.flatMap((name) => [`interface ${name}`, ' ip ospf network point-to-point', ' ip ospf hello-interval 1', ' ip ospf dead-interval 4', '!']),
    'router ospf',
    ` ospf router-id ${routerId}`,
    ...networks.map((network) => ` network ${network} area 0`),
    '',
  ].join('\n');
}

describe.skipIf(reason !== null)('--routing none: FRR ospfd on the hub and two members reaches Full and routes the members\' LANs', () => {
  let topo: MeshTopology;
  let dir: string;
  let hubState: string;
  let hub: CliProcess | undefined;
  const members: CliProcess[] = [];
  const routers: FrrRouter[] = [];

  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  const route = (ns: string, prefix: string): string => execIn(ns, 'ip', ['route', 'show', prefix]).trim();

  beforeAll(async () => {
    topo = createMeshTopology({ lan1: true });
    dir = mkdtempSync(join(tmpdir(), 'tunnel-ospf-'));
    hubState = join(dir, 'hub');
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    // With --routing none the hub leaves forwarding to the system, as for any router a daemon runs.
    execIn(topo.hub, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    hub = await startServe(topo.hub, hubState, ['--listen', HUB, '--routing', 'none', '--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1']);
  });

  afterAll(async () => {
    for (const router of routers) await router.stop();
    for (const member of members) await member.stop('SIGKILL');
    await hub?.stop();
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('members join; the hub pushes no routes and installs none', async () => {
    const invite = (await hubCli(['invite', 'create'])).trim();
    const c1 = startCli(topo.c1, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', 'c1', '--state', join(dir, 'c1')]);
    members.push(c1);
    // c1 first: the hub link /30s go in order (c1 10.1.12.0/30, c2 10.1.12.4/30).
    await waitUntil(() => /tnl-hub up/.test(c1.output()), 20_000, () => `c1 join: ${c1.output()}`);
    const pair = generateEd25519KeyPair('test');
    const keyFile = join(dir, 'c2-key');
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    await hubCli(['peer', 'add', 'c2', '--ssh-key', pair.public]);
    const c2 = startCli(topo.c2, 'client', ['join', `ssh://c2@${HUB}:2222`, '--key', keyFile, '--state', join(dir, 'c2')]);
    members.push(c2);
    await waitUntil(() => /tnl-hub up/.test(c1.output()) && /tnl-hub up/.test(c2.output()), 20_000, () => `joins: ${c1.output()} ${c2.output()}`);
    await waitUntil(async () => (await execInAsync(topo.c2, 'ping', ['-c', '1', '-W', '1', '10.1.12.5'], 5_000)).code === 0, 15_000, 'c2 -> hub');
    expect(route(topo.c1, '10.1.12.0/24')).toBe('');
    expect(execIn(topo.hub, 'ip', ['route', 'show', 'type', 'unreachable'])).toBe('');
    expect(hub!.output()).toMatch(/routing none: no routes installed or pushed/);
    // c1 carries its LAN's traffic as transit; c2's LAN is an approved source (routes are still never pushed).
    await hubCli(['peer', 'set', 'c1', '--source-check', 'off']);
    await hubCli(['peer', 'route', 'add', 'c2', '10.50.2.0/24']);
  });

  it('ospfd on all three reaches Full over the tunnels, and each member learns the other\'s LAN', async () => {
    const start = performance.now();
    routers.push(await startFrrRouter(topo.hub, ospfConfig('10.1.12.1', ['tnl-c1', 'tnl-c2'], ['10.1.12.0/24'])));
    routers.push(await startFrrRouter(topo.c1, ospfConfig('10.1.12.2', ['tnl-hub'], ['10.1.12.0/24', '10.50.1.0/24'])));
    routers.push(await startFrrRouter(topo.c2, ospfConfig('10.1.12.6', ['tnl-hub'], ['10.1.12.0/24', '10.50.2.0/24'])));
    const hubRouter = routers[0]!;
    await waitUntil(async () => ((await hubRouter.vtysh('show ip ospf neighbor')).match(/Full/g) ?? []).length === 2, 30_000,
      `two Full neighbours on the hub: ${await hubRouter.vtysh('show ip ospf neighbor')}`);
    const fullMs = performance.now() - start;
    await waitUntil(() => /proto ospf/.test(route(topo.c1, '10.50.2.0/24')) && /proto ospf/.test(route(topo.c2, '10.50.1.0/24')), 20_000,
      `learned LANs: c1 ${route(topo.c1, '10.50.2.0/24')} / c2 ${route(topo.c2, '10.50.1.0/24')}`);
    console.log(`ospfd: both adjacencies Full ${Math.round(fullMs)} ms after start, LANs learned ${Math.round(performance.now() - start)} ms after start`);
    expect(route(topo.c1, '10.50.2.0/24')).toMatch(/via 10\.1\.12\.1 dev tnl-hub proto ospf/);
    expect(route(topo.c2, '10.50.1.0/24')).toMatch(/via 10\.1\.12\.5 dev tnl-hub proto ospf/);
    expect(route(topo.hub, '10.50.1.0/24')).toMatch(/dev tnl-c1 proto ospf/);
    expect(await routers[1]!.vtysh('show ip ospf neighbor')).toMatch(/10\.1\.12\.1 .*Full/);
  });

  it('the LANs reach each other through the hub on the routes ospfd installed', async () => {
    await waitUntil(async () => (await execInAsync(topo.lan1!, 'ping', ['-c', '1', '-W', '1', '10.50.2.10'], 5_000)).code === 0, 10_000, 'lan1 -> lan2');
    expect((await execInAsync(topo.lan2, 'ping', ['-c', '1', '-W', '1', '10.50.1.10'], 5_000)).code).toBe(0);
  });
});
