import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliProcess } from '../helpers/control-processes.js';
import { createMeshTopology, type MeshTopology } from '../helpers/mesh-topology.js';
import { execIn, execInAsync, startNodeIn } from '../helpers/netns.js';
import { createNetnsHub, type NetnsHub } from '../helpers/netns-hub.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { ipv4Packet } from '../helpers/test-packets.js';
import { testScript } from '../helpers/test-scripts.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`SKIPPED shared member device netns tests: ${reason}`);

const HUB = '198.51.100.1';
const SHARED = 'tc-members';
/** Pool 10.1.14.0/24: c1's hub link .0/30 (hub .1, c1 .2), c2's .4/30 (hub .5, c2 .6). */
const INNER = { hubC1: '10.1.14.1', c1: '10.1.14.2', hubC2: '10.1.14.5', c2: '10.1.14.6' };
const LAN2 = '10.50.2.10';
const FORGED = ['10.1.14.6', '10.50.2.99', '10.99.99.99'];
const SERVE_FLAGS = ['--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1', '--member-devices', 'shared'];

interface PeerLine {
  name: string;
  tunnel: string;
  spoofed: number | null;
  routes: string[];
  counters: { device?: string; fastPath?: { rxPackets: number; txPackets: number } } | null;
}

describe.skipIf(reason !== null)('a hub with --member-devices shared (netns)', () => {
  let topo: MeshTopology;
  let hub: NetnsHub | undefined;
  let served: CliProcess | undefined;

  const hubCli = (args: string[]): Promise<string> => hub!.cli(args);
  const peer = async (name: string): Promise<PeerLine | undefined> =>
    (JSON.parse(await hubCli(['status', '--json'])) as { peers: PeerLine[] }).peers.find((p) => p.name === name);
  const pingOk = async (ns: string, target: string): Promise<boolean> => (await execInAsync(ns, 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0;
  const hubLinks = (): string[] => (JSON.parse(execIn(topo.hub, 'ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((link) => link.ifname);
  /** The shared device's routes: local ones (table local) and those to a member's /30 with their source. */
  const sharedRoutes = (): { local: string[]; towards: string[] } => {
    const routes = (table: string): { dst: string; type?: string; prefsrc?: string }[] =>
      JSON.parse(execIn(topo.hub, 'ip', ['-j', '-4', 'route', 'show', 'table', table, 'dev', SHARED]) || '[]') as { dst: string; type?: string; prefsrc?: string }[];
    return {
      local: routes('local').filter((r) => r.type === 'local').map((r) => r.dst).sort(),
      towards: routes('main').filter((r) => r.prefsrc !== undefined).map((r) => `${r.dst} src ${r.prefsrc}`).sort(),
    };
  };
  const sharedAddresses = (): string[] =>
    (JSON.parse(execIn(topo.hub, 'ip', ['-j', '-4', 'addr', 'show', 'dev', SHARED])) as { addr_info: { local: string }[] }[])[0]?.addr_info.map((a) => a.local) ?? [];
  const forgedSeen = (ns: string): number =>
    [...execIn(ns, 'nft', ['list', 'table', 'inet', 'forged']).matchAll(/counter packets (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);

  beforeAll(async () => {
    topo = createMeshTopology();
    hub = await createNetnsHub(topo.hub, { endpoint: HUB, pool: '10.1.14.0/24', tmpPrefix: 'tunnel-shared-' });
    served = await hub.serve(SERVE_FLAGS);
    for (const ns of [topo.hub, topo.c2, topo.lan2]) {
      execIn(ns, 'nft', ['-f', '-'], `table inet forged {
  chain pre { type filter hook prerouting priority -300; ip saddr { ${FORGED.join(', ')} } counter; }
}
`);
    }
  });

  afterAll(async () => {
    await hub?.close();
    topo?.destroy();
  });

  it('two members on the shared device reach each other and the hub; their links have no device of their own', async () => {
    await hub!.join(topo.c1, 'c1');
    await hub!.join(topo.c2, 'c2', { extra: ['--advertise', '10.50.2.0/24'] });
    await waitUntil(() => pingOk(topo.c1, INNER.c2), 20_000, 'c1 -> c2 through the hub');
    expect(await pingOk(topo.c2, INNER.c1)).toBe(true);
    expect(await pingOk(topo.c1, INNER.hubC1)).toBe(true);
    expect(await pingOk(topo.c2, INNER.hubC2)).toBe(true);

    const links = hubLinks();
    expect(links).toContain(SHARED);
    expect(links.filter((name) => name.startsWith('tnl-'))).toEqual([]);
    const shared = JSON.parse(execIn(topo.hub, 'ip', ['-j', '-d', 'link', 'show', 'dev', SHARED])) as { ifalias?: string }[];
    expect(shared[0]?.ifalias).toMatch(/^tunnel-hub:/);
    // Routes, not addresses: the hub's ends local, each member's /30 with the hub's end as source.
    expect(sharedAddresses()).toEqual([]);
    expect(sharedRoutes()).toEqual({ local: [INNER.hubC1, INNER.hubC2], towards: [`10.1.14.0/30 src ${INNER.hubC1}`, `10.1.14.4/30 src ${INNER.hubC2}`] });
    for (const name of ['c1', 'c2']) {
      const line = await peer(name);
      expect(line?.counters?.device).toBe(SHARED);
      expect(line?.tunnel).toBe(`tnl-${name}`);
    }
    // The forwarding thread sent packets read from the shared device: the native table picked the tunnel.
    await waitUntil(async () => ((await peer('c1'))?.counters?.fastPath?.txPackets ?? 0) > 0, 5_000, 'c1\'s fast path to send');
  });

  it('the hub answers on its inner address of each member, and what it sends a member comes from that address', async () => {
    // From the member's inner address to the hub's, and back.
    expect((await execInAsync(topo.c1, 'ping', ['-c', '1', '-W', '2', '-I', INNER.c1, INNER.hubC1], 5_000)).code).toBe(0);
    expect((await execInAsync(topo.c2, 'ping', ['-c', '1', '-W', '2', '-I', INNER.c2, INNER.hubC2], 5_000)).code).toBe(0);
    // From the hub, without a source given: the route's source picks the hub's end of that member's /30.
    execIn(topo.c1, 'nft', ['-f', '-'], `table inet hubsource {
  chain in { type filter hook input priority 0; ip saddr ${INNER.hubC1} ip daddr ${INNER.c1} icmp type echo-request counter; }
}
`);
    try {
      expect((await execInAsync(topo.hub, 'ping', ['-c', '2', '-W', '2', INNER.c1], 6_000)).code).toBe(0);
      expect((await execInAsync(topo.hub, 'ping', ['-c', '1', '-W', '2', INNER.c2], 5_000)).code).toBe(0);
      const seen = /counter packets (\d+)/.exec(execIn(topo.c1, 'nft', ['list', 'table', 'inet', 'hubsource']));
      expect(Number(seen?.[1])).toBe(2);
    } finally {
      execIn(topo.c1, 'nft', ['delete', 'table', 'inet', 'hubsource']);
    }
  });

  it('an approved prefix is routed to the shared device and through it to its member', async () => {
    await hubCli(['peer', 'route', 'approve', 'c2', '10.50.2.0/24']);
    await waitUntil(() => /dev tc-members/.test(execIn(topo.hub, 'ip', ['route', 'show', '10.50.2.0/24'])), 5_000, 'the hub\'s route to c2\'s LAN');
    await waitUntil(() => pingOk(topo.c1, LAN2), 10_000, 'c1 -> lan2');
    expect(await pingOk(topo.lan2, INNER.c1)).toBe(true);
    // What the hub itself sends there comes from its end of c2's link, as on a device of c2's own.
    expect((JSON.parse(execIn(topo.hub, 'ip', ['-j', 'route', 'get', LAN2])) as { dev: string; prefsrc: string }[])[0])
      .toMatchObject({ dev: SHARED, prefsrc: INNER.hubC2 });
    expect(await pingOk(topo.hub, LAN2)).toBe(true);
    expect((await peer('c2'))?.routes).toEqual(['10.50.2.0/24']);
  });

  it('forged inner sources from c1 are dropped and counted, reaching no one; genuine traffic goes on', async () => {
    execIn(topo.c1, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    const before = (await peer('c1'))?.spoofed ?? 0;
    const seenBefore = [topo.hub, topo.c2, topo.lan2].map(forgedSeen);
    const packets = FORGED.flatMap((source) => Array.from({ length: 4 }, () => ipv4Packet({ src: source, dst: source === '10.50.2.99' ? INNER.c2 : LAN2, length: 60 })));
    // The spoofer's TUN, spf0, routes into c1's tunnel to the hub.
    const spoofer = startNodeIn(topo.c1, testScript('tun-packet-spoofer'), packets.map((p) => p.toString('hex')));
    expect(await spoofer.result).toEqual({ written: packets.length });
    await waitUntil(async () => ((await peer('c1'))?.spoofed ?? 0) >= before + packets.length, 5_000, 'the hub to count the forged packets');
    expect((await peer('c1'))?.spoofed).toBe(before + packets.length);
    expect([topo.hub, topo.c2, topo.lan2].map(forgedSeen)).toEqual(seenBefore);
    expect(await pingOk(topo.c1, LAN2)).toBe(true);
  });

  it('a removed member\'s routes leave the shared device; the other member\'s stay', async () => {
    await hubCli(['peer', 'remove', 'c2']);
    await waitUntil(() => (sharedRoutes().local.length === 1 ? true : undefined), 10_000, () => `c2's routes to go: ${JSON.stringify(sharedRoutes())}`);
    expect(sharedRoutes()).toEqual({ local: [INNER.hubC1], towards: [`10.1.14.0/30 src ${INNER.hubC1}`] });
    expect(sharedAddresses()).toEqual([]);
    expect(execIn(topo.hub, 'ip', ['route', 'show', '10.50.2.0/24'])).toBe('');
    expect(await pingOk(topo.c1, INNER.hubC1)).toBe(true);
  });

  it('a hub killed with SIGKILL leaves no route behind, and on restart its member\'s routes come back', async () => {
    await served!.stop('SIGKILL');
    // The pool's unreachable route is the hub's own, kept in the main table on purpose; nothing else of the pool is left.
    const left = execIn(topo.hub, 'ip', ['-4', 'route', 'show', 'table', 'all']).split('\n').filter((line) => line.includes('10.1.14.'));
    expect(hubLinks()).not.toContain(SHARED);
    expect(left).toEqual(['unreachable 10.1.14.0/24 metric 4294967295 ']);
    served = await hub!.serve(SERVE_FLAGS);
    await waitUntil(() => (hubLinks().includes(SHARED) && sharedRoutes().local.length === 1 ? true : undefined), 20_000, () => `c1's routes to come back: ${hub!.output()}`);
    expect(sharedRoutes()).toEqual({ local: [INNER.hubC1], towards: [`10.1.14.0/30 src ${INNER.hubC1}`] });
    await waitUntil(() => pingOk(topo.c1, INNER.hubC1), 20_000, 'c1 -> the hub after its restart');
  });

  it('SIGTERM leaves no device of the hub behind', async () => {
    const code = await hub!.stop();
    expect(code).toBe(0);
    const left = hubLinks();
    expect(left).not.toContain(SHARED);
    expect(left.filter((name) => name.startsWith('tnl-'))).toEqual([]);
  });
});
