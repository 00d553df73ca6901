import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailableReason } from '../helpers/root.js';
import { createNatTopology, execIn, execInAsync, runNodeIn, startNodeIn, type NatTopology } from '../helpers/netns.js';
import { runCliIn, startCli, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testScript } from '../helpers/test-scripts.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping IPv6 hub link netns tests: ${reason}`);

const HUB = '198.51.100.1';
/** Pool 10.1.13.0/24: c2's hub link is its first /30 (hub .1, c2 .2). */
const HUB_INNER = '10.1.13.1';

interface PeerStatusLine {
  name: string;
  encap: string;
  encapReason: string | null;
  outerFamily: 'ipv4' | 'ipv6' | null;
  nat: boolean;
  endpoint: { seen: string | null; reported: string | null };
  probes: { gre?: boolean; fou?: boolean; gue?: boolean } | null;
}
interface ClientTunnel {
  name: string;
  encap: string;
  outerFamily: string;
  local: string;
  remote: string;
  mtu: number;
}

/**
 * The DS-Lite case of topo.sh EXTRA=v6: c2's IPv4 sits behind a NAT that drops GRE, its IPv6 is
 * public. It joins over IPv4, moves to the hub's IPv6 address and gets GRE over IPv6; without its
 * IPv6 address it falls back to FOU over IPv4 through the NAT; with it back, to GRE over IPv6.
 */
describe.skipIf(reason !== null)('a hub link prefers IPv6 and falls back to IPv4 (c2 behind an IPv4 NAT with public IPv6)', () => {
  let topo: NatTopology;
  let dir: string;
  let hubState: string;
  let hub: CliProcess | undefined;
  let c2: CliProcess | undefined;

  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  const peer = async (): Promise<PeerStatusLine | undefined> =>
    (JSON.parse(await hubCli(['status', '--json'])) as { peers: PeerStatusLine[] }).peers.find((p) => p.name === 'c2');
  const hubTunnel = (): ClientTunnel | undefined =>
    (JSON.parse(execIn(topo.c2, process.execPath, [join(process.cwd(), 'dist/client/cli.js'), 'status', '--json', '--state', join(dir, 'c2')])) as { tunnels: ClientTunnel[] })
      .tunnels.find((tunnel) => tunnel.name === 'tnl-hub');
  const pingOk = async (): Promise<boolean> => (await execInAsync(topo.c2, 'ping', ['-c', '1', '-W', '1', HUB_INNER], 5_000)).code === 0;
  const transferIntact = async (port: string): Promise<void> => {
    const receiver = startNodeIn(topo.hub, testScript('tcp-hash-receiver'), [HUB_INNER, port], 60_000);
    await receiver.ready;
    const sent = await runNodeIn(topo.c2, testScript('tcp-hash-sender'), [HUB_INNER, port, String(4 * 1024 * 1024)], 60_000) as { sha256: string };
    expect((await receiver.result as { sha256: string }).sha256).toBe(sent.sha256);
  };

  beforeAll(async () => {
    topo = createNatTopology({ ipv6: true });
    dir = mkdtempSync(join(tmpdir(), 'tunnel-ipv6-link-'));
    hubState = join(dir, 'hub');
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.13.0/24']);
    // Listening on all addresses: both families, and the hub's global IPv6 address found by itself.
    hub = startCli(topo.hub, 'server', ['--state', hubState, 'serve', '--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1']);
    const listening = await waitUntil(() => /.*hub listening.*/.exec(hub?.output() ?? '')?.[0], 20_000, 'hub listening');
    expect(JSON.parse(listening)).toMatchObject({ endpoint: HUB, endpoint6: topo.addresses6.hub });
  });

  afterAll(async () => {
    await c2?.stop('SIGKILL');
    await hub?.stop();
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('c2 joins over IPv4, moves to the hub\'s IPv6 address and gets GRE over IPv6, which the NAT would have dropped', async () => {
    const invite = (await hubCli(['invite', 'create'])).trim();
    c2 = startCli(topo.c2, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', 'c2', '--state', join(dir, 'c2')]);
    const line = await waitUntil(async () => {
      const status = await peer();
      return status?.outerFamily === 'ipv6' && status.encap === 'gre' && status.probes?.gre === true ? status : undefined;
    }, 30_000, `c2 on GRE over IPv6: ${c2.output()}`);
    expect(line).toMatchObject({ encapReason: 'public', nat: false, endpoint: { seen: topo.addresses6.c2, reported: topo.addresses6.c2 } });
    await waitUntil(() => pingOk(), 15_000, 'c2 pings the hub through GRE over IPv6');
    await waitUntil(() => hubTunnel()?.outerFamily === 'ipv6', 10_000, 'the member applied the IPv6 link');
    expect(hubTunnel()).toMatchObject({ encap: 'gre', outerFamily: 'ipv6', local: topo.addresses6.c2, remote: topo.addresses6.hub, mtu: 1452 });
    await transferIntact('5601');
  });

  it('without its IPv6 address, c2 falls back to FOU over IPv4 through the NAT', async () => {
    execIn(topo.c2, 'ip', ['-6', 'addr', 'del', `${topo.addresses6.c2}/64`, 'dev', `${topo.prefix}c20`]);
    const line = await waitUntil(async () => {
      const status = await peer();
      return status?.outerFamily === 'ipv4' && status.encap === 'fou' ? status : undefined;
    }, 30_000, `c2 on FOU over IPv4: ${c2!.output()}`);
    expect(line).toMatchObject({ encapReason: 'nat-detected', nat: true, endpoint: { seen: topo.addresses.natOutside, reported: topo.addresses.c2 } });
    await waitUntil(() => pingOk(), 15_000, 'c2 pings the hub through FOU over IPv4');
    await waitUntil(() => hubTunnel()?.outerFamily === 'ipv4', 10_000, 'the member applied the IPv4 link');
    expect(hubTunnel()).toMatchObject({ encap: 'fou', local: topo.addresses.c2, remote: HUB, mtu: 1468 });
    await transferIntact('5602');
  });

  it('with its IPv6 address back, c2 prefers IPv6 again', async () => {
    execIn(topo.c2, 'ip', ['-6', 'addr', 'add', `${topo.addresses6.c2}/64`, 'dev', `${topo.prefix}c20`, 'nodad']);
    execIn(topo.c2, 'ip', ['-6', 'route', 'replace', 'default', 'via', '2001:db8:77::1']);
    await waitUntil(async () => {
      const status = await peer();
      return status?.outerFamily === 'ipv6' && status.encap === 'gre' ? status : undefined;
    }, 30_000, `c2 back on GRE over IPv6: ${c2!.output()}`);
    await waitUntil(() => pingOk(), 15_000, 'c2 pings the hub through GRE over IPv6 again');
  });

  it('an IPv6 path that carries no tunnel packets: the ladder runs out over IPv6 (GRE, FOU, GUE) and c2 falls back to FOU over IPv4', async () => {
    // The router now drops GRE and UDP over IPv6 (the control connection, TCP, still passes).
    execIn(topo.wan, 'nft', ['-f', '-'], 'table ip6 tunnelblock {\n  chain forward {\n    type filter hook forward priority 0;\n    meta l4proto { 47, udp } drop\n  }\n}\n');
    // A fresh connection over IPv6 starts the ladder from GRE.
    execIn(topo.c2, 'ip', ['-6', 'addr', 'del', `${topo.addresses6.c2}/64`, 'dev', `${topo.prefix}c20`]);
    await waitUntil(async () => (await peer())?.outerFamily === 'ipv4', 30_000, 'c2 over IPv4');
    execIn(topo.c2, 'ip', ['-6', 'addr', 'add', `${topo.addresses6.c2}/64`, 'dev', `${topo.prefix}c20`, 'nodad']);
    execIn(topo.c2, 'ip', ['-6', 'route', 'replace', 'default', 'via', '2001:db8:77::1']);
    await waitUntil(() => /IPv6 path to the hub given up/.test(c2!.output()), 45_000, () => `the ladder running out over IPv6: ${c2!.output().slice(-3000)}`);
    const line = await waitUntil(async () => {
      const status = await peer();
      return status?.outerFamily === 'ipv4' && status.encap === 'fou' ? status : undefined;
    }, 30_000, 'c2 back on FOU over IPv4');
    expect(line).toMatchObject({ encapReason: 'nat-detected' });
    expect(hub!.output()).toMatch(/"encap":"gue","encapReason":"ipv6-unanswered"/);
    await waitUntil(() => pingOk(), 15_000, 'c2 pings the hub through FOU over IPv4');
  });
});
