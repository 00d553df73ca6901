import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';
import { runCliIn, startCli, startServe, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { createMeshTopology, type MeshTopology } from '../helpers/mesh-topology.js';
import { execIn, execInAsync, startNodeIn } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { ipv4Packet } from '../helpers/test-packets.js';
import { testScript } from '../helpers/test-scripts.js';
import { statusIn } from '../helpers/tunnel-client-process.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`SKIPPED mesh routing netns tests: ${reason}`);

const HUB = '198.51.100.1';
/** Pool 10.1.12.0/24: c1's hub link .0/30 (hub .1, c1 .2), c2's .4/30 (hub .5, c2 .6), c3's .8/30. */
const INNER = { c1: '10.1.12.2', c2: '10.1.12.6', c3: '10.1.12.10' };
const LAN2 = '10.50.2.10';
const LAN2_V6 = '2001:db8:52::10';
const C1_V6 = '2001:db8:51::1';

interface PeerLine { name: string; spoofed: number | null; routes: string[]; counters: { fastPath?: { rxPackets: number } } | null }

/** An ICMPv6 echo request from `source` to `destination` (checksum left zero: routers forward it as is). */
function ipv6Echo(source: string, destination: string): Buffer {
  const packet = Buffer.alloc(48);
  packet[0] = 0x60;
  packet.writeUInt16BE(8, 4);
  packet[6] = 58;
  packet[7] = 64;
  expandIpv6(source).copy(packet, 8);
  expandIpv6(destination).copy(packet, 24);
  packet[40] = 128;
  return packet;
}

function expandIpv6(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex');
}

const FORGED_V4 = ['10.1.12.6', '10.50.2.99', '10.99.99.99'];
const FORGED_V6 = '2001:db8:52::99';

describe.skipIf(reason !== null)('mesh routing end to end: hub-and-spoke, prefixes behind members, source validation', () => {
  let topo: MeshTopology;
  let dir: string;
  let hubState: string;
  let hub: CliProcess | undefined;
  const members = new Map<string, CliProcess>();

  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  const peer = async (name: string): Promise<PeerLine | undefined> =>
    (JSON.parse(await hubCli(['status', '--json'])) as { peers: PeerLine[] }).peers.find((p) => p.name === name);
  const pingOk = async (ns: string, target: string, extra: string[] = []): Promise<boolean> =>
    (await execInAsync(ns, 'ping', ['-c', '1', '-W', '1', ...extra, target], 5_000)).code === 0;
  const kernelRoute = (ns: string, prefix: string): string => execIn(ns, 'ip', [prefix.includes(':') ? '-6' : '-4', 'route', 'show', prefix]).trim();
  const startHub = async (env: Record<string, string> = {}): Promise<void> => {
    hub = await startServe(topo.hub, hubState, ['--listen', HUB, '--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1'], env);
  };
  /** Runs a hub CLI command, then how long until `check` holds (polled every 20 ms). */
  const timeUntil = async (args: string[], check: () => boolean): Promise<number> => {
    await hubCli(args);
    const start = performance.now();
    await waitUntil(check, 5_000, `after ${args.join(' ')}`);
    return performance.now() - start;
  };

  beforeAll(async () => {
    topo = createMeshTopology();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-mesh-'));
    hubState = join(dir, 'hub');
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    await startHub();
    // Counters of packets carrying the forged sources, wherever they could arrive.
    for (const ns of [topo.hub, topo.c2, topo.lan2]) {
      execIn(ns, 'nft', ['-f', '-'], `table inet forged {
  chain pre { type filter hook prerouting priority -300; ip saddr { ${FORGED_V4.join(', ')} } counter; ip6 saddr ${FORGED_V6} counter; }
}
`);
    }
  });

  afterAll(async () => {
    for (const member of members.values()) await member.stop('SIGKILL');
    await hub?.stop();
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const forgedSeen = (ns: string): number =>
    [...execIn(ns, 'nft', ['list', 'table', 'inet', 'forged']).matchAll(/counter packets (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);

  it('c1 (public, GRE) pings c2 (behind the NAT, FOU) through the hub with no link add', async () => {
    const invite = (await hubCli(['invite', 'create'])).trim();
    const c1 = startCli(topo.c1, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', 'c1', '--state', join(dir, 'c1')]);
    members.set('c1', c1);
    await waitUntil(() => /tnl-hub up/.test(c1.output()), 20_000, () => `c1 join: ${c1.output()}`);
    const pair = generateEd25519KeyPair('test');
    const keyFile = join(dir, 'c2-key');
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    await hubCli(['peer', 'add', 'c2', '--ssh-key', pair.public]);
    const c2 = startCli(topo.c2, 'client', ['join', `ssh://c2@${HUB}:2222`, '--key', keyFile, '--state', join(dir, 'c2'), '--advertise', '10.50.2.0/24']);
    members.set('c2', c2);
    await waitUntil(() => /tnl-hub up/.test(c2.output()), 20_000, () => `c2 join: ${c2.output()}`);
    await waitUntil(() => pingOk(topo.c1, INNER.c2), 20_000, 'c1 -> c2 through the hub');
    expect(await pingOk(topo.c2, INNER.c1)).toBe(true);
    expect(kernelRoute(topo.c1, '10.1.12.0/24')).toMatch(/dev tnl-hub .*metric 1000/);
    const c1Status = statusIn(topo.c1, join(dir, 'c1'));
    expect(c1Status.tunnels.find((t) => t.name === 'tnl-hub')?.routes).toEqual(['10.1.12.0/24']);
    expect(execIn(topo.hub, 'sysctl', ['-n', 'net.ipv4.conf.tnl-c1.forwarding', 'net.ipv6.conf.tnl-c1.force_forwarding']).trim().split('\n')).toEqual(['1', '1']);
    expect(hub!.output()).toMatch(/routing static: forwarding IPv4 and IPv6 between member tunnels/);
  });

  it('c2\'s --advertise stays unrouted until the operator approves it', async () => {
    const list = JSON.parse(await hubCli(['peer', 'route', 'list', '--json'])) as { peer: string; prefix: string; state: string }[];
    expect(list).toEqual([expect.objectContaining({ peer: 'c2', prefix: '10.50.2.0/24', state: 'pending' })]);
    expect(kernelRoute(topo.c1, '10.50.2.0/24')).toBe('');
    expect(execIn(topo.hub, 'ip', ['route', 'show', '10.50.2.0/24'])).toBe('');
    expect(await pingOk(topo.c1, LAN2)).toBe(false);
    expect(members.get('c2')!.output()).toMatch(/advertised prefix pending/);
  });

  it('approved, c1 pings lan2 and lan2 pings c1; `peer route remove` cuts it off within a second; `add` brings it back', async () => {
    const approved = await timeUntil(['peer', 'route', 'approve', 'c2', '10.50.2.0/24'], () => kernelRoute(topo.c1, '10.50.2.0/24') !== '');
    await waitUntil(() => pingOk(topo.c1, LAN2), 5_000, 'c1 -> lan2');
    expect(await pingOk(topo.lan2, INNER.c1)).toBe(true);
    expect(execIn(topo.hub, 'ip', ['route', 'show', '10.50.2.0/24'])).toMatch(/10\.50\.2\.0\/24 dev tnl-c2 .*metric 1000/);
    expect((await peer('c2'))?.routes).toEqual(['10.50.2.0/24']);

    const removed = await timeUntil(['peer', 'route', 'remove', 'c2', '10.50.2.0/24'],
      () => kernelRoute(topo.c1, '10.50.2.0/24') === '' && !/dev tnl-c2/.test(execIn(topo.hub, 'ip', ['route', 'show', '10.50.2.0/24'])));
    console.log(`approve -> route on c1 ${Math.round(approved)} ms; remove -> gone from c1 and the hub ${Math.round(removed)} ms (after the CLI returned)`);
    expect(removed).toBeLessThan(1_000);
    expect(await pingOk(topo.lan2, INNER.c1)).toBe(false);
    expect(await pingOk(topo.c1, LAN2)).toBe(false);

    await timeUntil(['peer', 'route', 'add', 'c2', '10.50.2.0/24'], () => kernelRoute(topo.c1, '10.50.2.0/24') !== '');
    await waitUntil(() => pingOk(topo.c1, LAN2), 5_000, 'c1 -> lan2 again');
  });

  it('routes IPv6 inside: c1\'s and c2\'s approved IPv6 prefixes reach each other through the hub', async () => {
    execIn(topo.c1, 'ip', ['-6', 'addr', 'add', `${C1_V6}/128`, 'dev', 'lo']);
    await hubCli(['peer', 'route', 'add', 'c1', '2001:db8:51::/64']);
    await hubCli(['peer', 'route', 'add', 'c2', '2001:db8:52::/64']);
    await waitUntil(() => kernelRoute(topo.c1, '2001:db8:52::/64') !== '' && kernelRoute(topo.c2, '2001:db8:51::/64') !== '', 5_000, 'IPv6 routes');
    await waitUntil(() => pingOk(topo.c1, LAN2_V6, ['-6', '-I', C1_V6]), 5_000, 'c1 -> lan2 over IPv6');
    expect(await pingOk(topo.lan2, C1_V6, ['-6'])).toBe(true);
  });

  it('a direct c1<->c2 link wins over the hub for c2\'s LAN (metric 100 against 1000), and the hub takes over when it goes', async () => {
    const via = (): string => execIn(topo.c1, 'ip', ['route', 'get', LAN2]);
    expect(via()).toMatch(/dev tnl-hub/);
    await hubCli(['link', 'add', 'c1', 'c2']);
    await waitUntil(() => /dev tnl-c2/.test(via()), 20_000, 'c1 routing lan2 over the direct link');
    expect(kernelRoute(topo.c1, '10.50.2.0/24').split('\n')).toEqual(expect.arrayContaining([
      expect.stringMatching(/dev tnl-c2 .*metric 100/), expect.stringMatching(/dev tnl-hub .*metric 1000/),
    ]));
    await waitUntil(() => pingOk(topo.c1, LAN2), 20_000, 'c1 -> lan2 over the direct link');
    await hubCli(['link', 'remove', 'c1', 'c2']);
    await waitUntil(() => /dev tnl-hub/.test(via()), 10_000, 'back through the hub');
    await waitUntil(() => pingOk(topo.c1, LAN2), 10_000, 'c1 -> lan2 through the hub again');
  });

  const forgedTraffic = async (label: string): Promise<void> => {
    const before = (await peer('c1'))?.spoofed ?? 0;
    const seenBefore = [topo.hub, topo.c2, topo.lan2].map(forgedSeen);
    const copies = 5;
    const packets = [
      ...FORGED_V4.flatMap((source) => Array.from({ length: copies }, () => ipv4Packet({ src: source, dst: source === '10.50.2.99' ? INNER.c2 : LAN2, length: 60 }))),
      ...Array.from({ length: copies }, () => ipv6Echo(FORGED_V6, LAN2_V6)),
    ];
    const genuine = execInAsync(topo.c1, 'ping', ['-c', '10', '-i', '0.1', '-W', '2', LAN2], 10_000);
    const spoofer = startNodeIn(topo.c1, testScript('tun-packet-spoofer'), packets.map((p) => p.toString('hex')));
    expect(await spoofer.result).toEqual({ written: packets.length });
    const ping = await genuine;
    const after = await waitUntil(async () => {
      const line = await peer('c1');
      return (line?.spoofed ?? 0) >= before + packets.length ? line : undefined;
    }, 5_000, 'the hub to count the forged packets');
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a count beyond them, which must not come
    expect((await peer('c1'))?.spoofed).toBe(before + packets.length);
    console.log(`${label}: ${packets.length} forged packets, hub spoofed count for c1 ${before} -> ${after.spoofed ?? '?'}; genuine pings: ${/(\d+) received/.exec(ping.stdout)?.[1] ?? '?'}/10; hub fast path rx ${after.counters?.fastPath?.rxPackets ?? 'off'}`);
    expect(ping.stdout).toMatch(/10 packets transmitted, 10 received/);
    expect([topo.hub, topo.c2, topo.lan2].map(forgedSeen)).toEqual(seenBefore);
    expect(await pingOk(topo.lan2, INNER.c1)).toBe(true);
  };

  it('forged inner sources from c1 reach no one, the hub counts exactly those as spoofed, genuine traffic goes on (fast path)', async () => {
    execIn(topo.c1, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    await forgedTraffic('fast path');
    expect((await peer('c1'))?.counters?.fastPath?.rxPackets).toBeGreaterThan(0);
  });

  it('… and the same with every packet through JS (TUNNEL_FAST_PATH=off)', async () => {
    await hub!.stop();
    await startHub({ TUNNEL_FAST_PATH: 'off' });
    await waitUntil(() => pingOk(topo.c1, LAN2), 30_000, 'c1 -> lan2 after the hub restarted');
    await forgedTraffic('JS path');
    expect((await peer('c1'))?.counters?.fastPath).toBeUndefined();
  });

  it('a revoked or removed member\'s routes vanish from every other member', async () => {
    const c3 = startCli(topo.nat, 'client', ['join', `ws://${HUB}:8443`, '--token', (await hubCli(['invite', 'create'])).trim(), '--name', 'c3', '--state', join(dir, 'c3')]);
    members.set('c3', c3);
    await waitUntil(() => kernelRoute(topo.nat, '10.50.2.0/24') !== '' && kernelRoute(topo.nat, '2001:db8:51::/64') !== '', 20_000, () => `c3 routes: ${c3.output()}`);
    await hubCli(['peer', 'revoke', 'c2']);
    await waitUntil(() => kernelRoute(topo.c1, '10.50.2.0/24') === '' && kernelRoute(topo.nat, '10.50.2.0/24') === ''
      && kernelRoute(topo.c1, '2001:db8:52::/64') === '' && kernelRoute(topo.nat, '2001:db8:52::/64') === '', 5_000, 'c2\'s routes gone');
    expect(await pingOk(topo.c1, LAN2)).toBe(false);
    await hubCli(['peer', 'remove', 'c1']);
    await waitUntil(() => kernelRoute(topo.nat, '2001:db8:51::/64') === '', 5_000, 'c1\'s route gone from c3');
    expect(kernelRoute(topo.nat, '10.1.12.0/24')).toMatch(/dev tnl-hub/);
  });
});
