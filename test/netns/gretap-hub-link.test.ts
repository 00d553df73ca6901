import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailableReason } from '../helpers/root.js';
import { createNatTopology, execIn, execInAsync, type NatTopology } from '../helpers/netns.js';
import { runCliIn, startCli, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`skipping gretap hub link netns tests: ${reason}`);

const HUB = '198.51.100.1';
/** Pool 10.1.14.0/24: c1's hub link .0/30, c2's .4/30, the c1<->c2 link .8/30. */
const INNER = { hubForC1: '10.1.14.1', c1OnHubLink: '10.1.14.2', c1OnLink: '10.1.14.9', c2OnLink: '10.1.14.10' };

function macOf(namespace: string, ifname: string): string {
  return /link\/ether ([0-9a-f:]{17})/.exec(execIn(namespace, 'ip', ['-o', 'link', 'show', ifname]))?.[1] ?? '';
}

/**
 * gretap through the hub: `peer pin c1 --encap gretap` turns c1's hub link and its link to c2
 * into Ethernet over GRE on TAPs at both ends. Both members have public IPv6 (topo.sh EXTRA=v6),
 * so the links run over IPv6 and c2's IPv4 NAT (which drops GRE) is out of the way.
 */
describe.skipIf(reason !== null)('gretap hub and peer links, pinned by the operator', () => {
  let topo: NatTopology;
  let dir: string;
  let hubState: string;
  let hub: CliProcess | undefined;
  const members = new Map<string, CliProcess>();

  const hubCli = (args: string[]): Promise<string> => runCliIn(topo.hub, 'server', ['--state', hubState, ...args]);
  let lastLine: unknown;
  const peerLine = async (name: string): Promise<{ encap: string; outerFamily: string | null } | undefined> => {
    const line = (JSON.parse(await hubCli(['status', '--json'])) as { peers: { name: string; encap: string; outerFamily: string | null }[] }).peers.find((p) => p.name === name);
    lastLine = line;
    return line;
  };
  const pingOk = async (ns: string, target: string): Promise<boolean> => (await execInAsync(ns, 'ping', ['-c', '1', '-W', '1', target], 5_000)).code === 0;
  /** A ping out of one device: the hub also routes the link's addresses, so a plain ping may go round it. */
  const pingVia = async (ns: string, target: string, device: string): Promise<boolean> =>
    (await execInAsync(ns, 'ping', ['-c', '1', '-W', '1', '-I', device, target], 5_000)).code === 0;
  const startHub = async (): Promise<void> => {
    hub = startCli(topo.hub, 'server', ['--state', hubState, 'serve', '--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1']);
    await waitUntil(() => /hub listening/.test(hub?.output() ?? ''), 20_000, 'hub listening');
  };
  const run = (name: string, ns: string, args: string[]): CliProcess => {
    const member = startCli(ns, 'client', [...args, '--state', join(dir, name)]);
    members.set(name, member);
    return member;
  };

  beforeAll(async () => {
    topo = createNatTopology({ ipv6: true });
    dir = mkdtempSync(join(tmpdir(), 'tunnel-gretap-link-'));
    hubState = join(dir, 'hub');
    await hubCli(['init', '--endpoint', HUB, '--pool', '10.1.14.0/24']);
    await startHub();
    for (const [name, ns] of [['c1', topo.c1], ['c2', topo.c2]] as const) {
      const invite = (await hubCli(['invite', 'create'])).trim();
      run(name, ns, ['join', `ws://${HUB}:8443`, '--token', invite, '--name', name]);
      await waitUntil(async () => (await peerLine(name))?.outerFamily === 'ipv6', 30_000, `${name} over IPv6`);
    }
  });

  afterAll(async () => {
    for (const member of members.values()) await member.stop('SIGKILL');
    await hub?.stop();
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a pin to gretap puts c1\'s hub link on TAPs at both ends; it carries pings', async () => {
    await hubCli(['peer', 'pin', 'c1', '--encap', 'gretap']);
    await waitUntil(async () => (await peerLine('c1'))?.encap === 'gretap', 15_000, 'c1 on gretap');
    await waitUntil(() => /link\/ether/.test(execIn(topo.c1, 'ip', ['-o', 'link', 'show', 'tnl-hub'])), 15_000, 'c1 runs a TAP');
    expect(execIn(topo.hub, 'ip', ['-o', 'link', 'show', 'tnl-c1'])).toMatch(/link\/ether .* brd ff:ff:ff:ff:ff:ff/);
    // GRE with its key over IPv6, plus the Ethernet header: 1500 - 40 - 8 - 14.
    expect(execIn(topo.c1, 'ip', ['-o', 'link', 'show', 'tnl-hub'])).toContain('mtu 1438');
    await waitUntil(() => pingOk(topo.c1, INNER.hubForC1), 15_000, 'c1 pings the hub over gretap');
    await waitUntil(() => pingOk(topo.hub, INNER.c1OnHubLink), 15_000, 'the hub pings c1 over gretap');
  });

  it('the c1<->c2 link follows c1\'s pin: gretap between the two members, over IPv6', async () => {
    await hubCli(['link', 'add', 'c1', 'c2']);
    await waitUntil(() => pingVia(topo.c1, INNER.c2OnLink, 'tnl-c2'), 20_000, 'c1 pings c2 over their gretap link');
    await waitUntil(() => pingVia(topo.c2, INNER.c1OnLink, 'tnl-c1'), 10_000, 'c2 pings c1 over their gretap link');
    expect(execIn(topo.c2, 'ip', ['-o', 'link', 'show', 'tnl-c1'])).toContain('link/ether');
  });

  it('keeps every TAP\'s MAC across a restart of the member and of the hub', async () => {
    const before = { member: macOf(topo.c1, 'tnl-hub'), hub: macOf(topo.hub, 'tnl-c1'), link: macOf(topo.c1, 'tnl-c2') };
    expect(new Set(Object.values(before)).size).toBe(3);
    // Both down, then the hub up before the member, so the member's first session is with the new
    // hub: it connects over IPv4, then moves its hub link (a TAP at both ends) to IPv6 once welcomed.
    await members.get('c1')!.stop();
    await hub!.stop();
    await startHub();
    run('c1', topo.c1, ['run']);
    const tail = (text: string | undefined): string => (text ?? '').split('\n').slice(-25).join('\n');
    await waitUntil(async () => (await peerLine('c1'))?.encap === 'gretap' && pingOk(topo.c1, INNER.hubForC1), 30_000,
      () => `c1 back on gretap; status ${JSON.stringify(lastLine)}\nc1's log:\n${tail(members.get('c1')?.output())}\nthe hub's log:\n${tail(hub?.output())}`);
    await waitUntil(() => pingVia(topo.c1, INNER.c2OnLink, 'tnl-c2'), 20_000, 'the c1<->c2 link back');
    expect({ member: macOf(topo.c1, 'tnl-hub'), hub: macOf(topo.hub, 'tnl-c1'), link: macOf(topo.c1, 'tnl-c2') }).toEqual(before);
  });
});
