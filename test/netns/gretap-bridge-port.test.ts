import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeHostBehind } from '../helpers/bridged-lan.js';
import { createNamespaces, createPairTopology, deleteNamespaces, execIn, execInAsync, type PairTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { startUp, statusIn, tunnelClientCli, type RunningUp } from '../helpers/tunnel-client-process.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping gretap-bridge-port: ${reason}`);

function macOf(namespace: string, ifname: string): string {
  return /link\/ether ([0-9a-f:]{17})/.exec(execIn(namespace, 'ip', ['-o', 'link', 'show', ifname]))?.[1] ?? '';
}

describe.skipIf(reason)('gretap without inner addresses: an L2 port bridging two LANs', () => {
  let pair: PairTopology;
  const hosts: string[] = [];
  const hostInterfaces: string[] = [];
  const states: string[] = [];
  const ups: RunningUp[] = [];
  // No --address, no --peer-address: the TAP carries frames for the bridge and holds no address.
  const args = (local: string, remote: string, state: string) => [
    '--local', local, '--remote', remote, '--encap', 'gretap', '--name', 'gport0', '--keepalive', '1', '--state', state,
  ];

  beforeAll(async () => {
    pair = createPairTopology();
    // One LAN, 10.83.0.0/24, split over the tunnel: hostA 10.83.0.1 behind end a, hostB 10.83.0.2 behind end b.
    hosts.push(`${pair.prefix}ha`, `${pair.prefix}hb`);
    createNamespaces(hosts);
    hostInterfaces.push(bridgeHostBehind(pair.a, hosts[0]!, `${pair.prefix}a`, '10.83.0.1/24'));
    hostInterfaces.push(bridgeHostBehind(pair.b, hosts[1]!, `${pair.prefix}b`, '10.83.0.2/24'));
    for (const [end, local, remote] of [[pair.a, pair.aAddress, pair.bAddress], [pair.b, pair.bAddress, pair.aAddress]] as const) {
      const state = mkdtempSync(join(tmpdir(), 'tc-tap-port-'));
      states.push(state);
      ups.push(await startUp(end, args(local, remote, state)));
      execFileSync('ip', ['-n', end, 'link', 'set', 'gport0', 'master', 'br0'], { stdio: 'pipe' });
    }
  });

  afterAll(async () => {
    const codes = await Promise.all(ups.map((up) => up.stop()));
    deleteNamespaces(hosts);
    pair?.destroy();
    for (const dir of states) rmSync(dir, { recursive: true, force: true });
    expect(codes).toEqual(ups.map(() => 0));
  });

  it('comes up with no address on the TAP, says so, and shows inner and peerInner null in status', () => {
    expect(ups[0]!.output()).toMatch(/^gport0 up: gretap \S+ -> \S+, no inner address \(an L2 port for a bridge\), mtu 1462$/m);
    expect(execIn(pair.a, 'ip', ['-o', 'addr', 'show', 'dev', 'gport0', 'scope', 'global'])).toBe('');
    expect(execIn(pair.a, 'ip', ['-o', 'link', 'show', 'gport0'])).toContain('master br0');
    const [tunnel] = statusIn(pair.a, states[0]!).tunnels;
    expect(tunnel).toMatchObject({ name: 'gport0', encap: 'gretap', inner: null, peerInner: null, mtu: 1462 });
    // The table prints '-' where there is no address.
    const table = execIn(pair.a, process.execPath, [tunnelClientCli(), 'status', '--state', states[0]!]);
    expect(table.split('\n')[1]).toMatch(/^gport0\s+\S+\s+gretap\s+-\s+\S+\s+\S+\s+-\s+-\s+1462\s/);
  });

  it('bridges the two LAN hosts: ARP crosses and they ping on the one subnet', async () => {
    const ping = await execInAsync(hosts[0]!, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.83.0.2']);
    expect(ping.stdout).toMatch(/3 received/);
    // hostA learned hostB's MAC by ARP, over the tunnel, and the reverse.
    expect(execIn(hosts[0]!, 'ip', ['neigh', 'show', '10.83.0.2'])).toContain(macOf(hosts[1]!, hostInterfaces[1]!));
    expect(execIn(hosts[1]!, 'ip', ['neigh', 'show', '10.83.0.1'])).toContain(macOf(hosts[0]!, hostInterfaces[0]!));
    // Each bridge learned the far host's MAC on the TAP.
    expect(execIn(pair.a, 'bridge', ['fdb', 'show', 'dev', 'gport0'])).toContain(macOf(hosts[1]!, hostInterfaces[1]!));
    const [tunnel] = statusIn(pair.b, states[1]!).tunnels;
    expect(tunnel!.rx.packets).toBeGreaterThanOrEqual(3);
    expect(tunnel!.tx.packets).toBeGreaterThanOrEqual(3);
  });
});
