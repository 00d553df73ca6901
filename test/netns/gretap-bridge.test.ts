import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNamespaces, createPairTopology, deleteNamespaces, execIn, execInAsync, runNodeIn, startNodeIn, type PairTopology,
} from '../helpers/netns.js';
import { bridgeHostBehind } from '../helpers/bridged-lan.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import { startUp, statusIn, type RunningUp } from '../helpers/tunnel-client-process.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping gretap-bridge: ${reason}`);

function macOf(namespace: string, ifname: string): string {
  return /link\/ether ([0-9a-f:]{17})/.exec(execIn(namespace, 'ip', ['-o', 'link', 'show', ifname]))?.[1] ?? '';
}

describe.skipIf(reason)('gretap: Ethernet over GRE on a TAP, bridged at both ends', () => {
  let pair: PairTopology;
  const hosts: string[] = [];
  let stateA: string;
  let stateB: string;
  let upA: RunningUp | undefined;
  let upB: RunningUp | undefined;
  const args = (local: string, remote: string, me: number, state: string, extra: string[] = [], name = 'gtap0', net = 0) => [
    '--local', local, '--remote', remote, '--encap', 'gretap', '--address', `10.81.${net}.${me}/30`, '--peer-address', `10.81.${net}.${3 - me}`,
    '--name', name, '--keepalive', '1', '--state', state, ...extra,
  ];
  const hostIf = (side: 'a' | 'b') => `${pair.prefix}${side}h0`;

  beforeAll(async () => {
    pair = createPairTopology({ ipv6: true });
    stateA = mkdtempSync(join(tmpdir(), 'tc-tap-a-'));
    stateB = mkdtempSync(join(tmpdir(), 'tc-tap-b-'));
    // A host behind each end, on a bridge with the end's TAP: hostA 10.82.0.1, hostB 10.82.0.2.
    hosts.push(`${pair.prefix}ha`, `${pair.prefix}hb`);
    createNamespaces(hosts);
    bridgeHostBehind(pair.a, hosts[0]!, `${pair.prefix}a`, '10.82.0.1/24');
    bridgeHostBehind(pair.b, hosts[1]!, `${pair.prefix}b`, '10.82.0.2/24');
    upA = await startUp(pair.a, args(pair.aAddress, pair.bAddress, 1, stateA));
    upB = await startUp(pair.b, args(pair.bAddress, pair.aAddress, 2, stateB));
  });

  afterAll(async () => {
    const codes = await Promise.all([upA?.stop(), upB?.stop()]);
    deleteNamespaces(hosts);
    pair?.destroy();
    for (const dir of [stateA, stateB]) if (dir) rmSync(dir, { recursive: true, force: true });
    expect(codes).toEqual([0, 0]);
  });

  it('runs a TAP with MTU 1462 (the Ethernet header counted) and a locally administered MAC that status shows', async () => {
    const link = execIn(pair.a, 'ip', ['-o', 'link', 'show', 'gtap0']);
    expect(link).toContain('mtu 1462');
    expect(link).toContain('link/ether');
    const mac = macOf(pair.a, 'gtap0');
    // Locally administered (bit 1 of the first byte), unicast (bit 0 clear).
    expect(parseInt(mac.slice(0, 2), 16) & 0b11).toBe(0b10);
    expect(statusIn(pair.a, stateA).tunnels[0]).toMatchObject({ encap: 'gretap', mtu: 1462, mac, outerFamily: 'ipv4' });
    expect(macOf(pair.b, 'gtap0')).not.toBe(mac);
    // ARP across the tunnel for its own /30.
    expect((await execInAsync(pair.a, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.81.0.2'])).stdout).toMatch(/2 received/);
  });

  it('bridges two LANs: ARP and broadcast cross, and the hosts ping', async () => {
    for (const end of [pair.a, pair.b]) execFileSync('ip', ['-n', end, 'link', 'set', 'gtap0', 'master', 'br0'], { stdio: 'pipe' });
    const ping = await execInAsync(hosts[0]!, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.82.0.2']);
    expect(ping.stdout).toMatch(/3 received/);
    // hostA learned hostB's MAC by ARP, over the tunnel.
    const hostBMac = macOf(hosts[1]!, hostIf('b'));
    expect(execIn(hosts[0]!, 'ip', ['neigh', 'show', '10.82.0.2'])).toContain(hostBMac);
    const receiver = startNodeIn(hosts[1]!, testScript('broadcast-receiver'), ['5600'], 30_000);
    await receiver.ready;
    await runNodeIn(hosts[0]!, testScript('broadcast-sender'), ['10.82.0.255', '5600', '10'], 30_000);
    expect(await receiver.result).toMatchObject({ from: '10.82.0.1', text: expect.stringMatching(/^broadcast \d$/) });
    const [tunnel] = statusIn(pair.a, stateA).tunnels;
    expect(tunnel!.tx.packets).toBeGreaterThan(0);
    expect(tunnel!.fastPath.txPackets).toBeGreaterThan(0);
  });

  it('keeps the same MAC across a restart', async () => {
    const before = macOf(pair.a, 'gtap0');
    expect(await upA!.stop()).toBe(0);
    upA = await startUp(pair.a, args(pair.aAddress, pair.bAddress, 1, stateA));
    expect(macOf(pair.a, 'gtap0')).toBe(before);
  });

  it('runs over IPv6 (ip6gretap; with a key, MTU 1500 - 40 - 8 - 14 = 1438), and takes a MAC given on the command line', async () => {
    const a6 = await startUp(pair.a, args(pair.aAddress6, pair.bAddress6, 1, stateA, ['--key', '77', '--mac', '02:00:5e:10:00:01'], 'gtap6', 1));
    const b6 = await startUp(pair.b, args(pair.bAddress6, pair.aAddress6, 2, stateB, ['--key', '77'], 'gtap6', 1));
    try {
      expect(execIn(pair.a, 'ip', ['-o', 'link', 'show', 'gtap6'])).toContain('mtu 1438');
      expect(macOf(pair.a, 'gtap6')).toBe('02:00:5e:10:00:01');
      expect((await execInAsync(pair.a, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.81.1.2'])).stdout).toMatch(/2 received/);
      expect(statusIn(pair.b, stateB).tunnels.find((t) => t.name === 'gtap6')).toMatchObject({ outerFamily: 'ipv6', key: 77, mtu: 1438 });
    } finally {
      expect(await Promise.all([a6.stop(), b6.stop()])).toEqual([0, 0]);
    }
  });
});
