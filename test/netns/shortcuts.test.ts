import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNetnsHub, type NetnsHub } from '../helpers/netns-hub.js';
import { waitUntil } from '../helpers/wait-until.js';
import { addVethLink, createNamespaces, createNatTopology, deleteNamespaces, execIn, execInAsync, type NatTopology } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { pingSummary } from '../helpers/ping-summary.js';
import { statusIn } from '../helpers/tunnel-client-process.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`SKIPPED shortcuts netns tests: ${reason}`);

const HUB = '198.51.100.1';
/** Pool 10.1.13.0/24: c1's hub link .0/30 (c1 .2), c2's .4/30 (c2 .6); a shortcut takes the next /30. */
const INNER = { c1: '10.1.13.2', c2: '10.1.13.6' };
/** ~0.8 Mbit/s each way: 100 pings a second of 1,000 bytes, well above the threshold below. */
const BUSY_PING = ['-i', '0.01', '-s', '1000'];

interface LinkLine { ends: [string, string]; kind: string; why: string | null; age: number; rate: number | null }
interface StatusLink { ends: [string, string]; kind: string; why: string | null; shortcut: { state: string; rate: number; verifiedAt: string | null } | null }
interface HubStatusJson {
  peers: { name: string; counters: { rx: { packets: number } } | null }[];
  links: StatusLink[];
  shortcuts: {
    failures: { ends: [string, string]; reason: string }[];
    counts: { made: number; failed: Record<string, number>; removed: Record<string, number> };
  } | null;
}

describe.skipIf(reason !== null)('automatic shortcuts: hub 198.51.100.1, c1 public (GRE), c2 behind a NAT that drops GRE (FOU)', () => {
  let topo: NatTopology;
  let hub: NetnsHub | undefined;

  const hubCli = (args: string[]): Promise<string> => hub!.cli(args);
  const hubStatus = async (): Promise<HubStatusJson> => JSON.parse(await hubCli(['status', '--json'])) as HubStatusJson;
  const shortcutLinks = async (): Promise<StatusLink[]> => (await hubStatus()).links.filter((l) => l.kind === 'shortcut');
  const hubRx = async (peer: string): Promise<number> => (await hubStatus()).peers.find((p) => p.name === peer)?.counters?.rx.packets ?? 0;
  const routeTo = (ns: string, address: string): string => execIn(ns, 'ip', ['route', 'get', address]);
  const startHub = async (extra: string[]): Promise<void> => {
    await hub!.serve(['--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1',
      '--shortcut-threshold', '200kbit:1s', ...extra]);
  };
  /** Pings c2 from c1 for `seconds` at 100 a second, running `during` meanwhile. */
  const busyPing = async (seconds: number, during: () => Promise<void>): Promise<{ sent: number; received: number }> => {
    const ping = execInAsync(topo.c1, 'ping', ['-q', ...BUSY_PING, '-w', String(seconds), INNER.c2], (seconds + 20) * 1000);
    await during();
    return pingSummary((await ping).stdout);
  };

  beforeAll(async () => {
    topo = createNatTopology();
    hub = await createNetnsHub(topo.hub, { endpoint: HUB, pool: '10.1.13.0/24', tmpPrefix: 'tunnel-shortcuts-' });
    await startHub(['--shortcuts', 'auto', '--shortcut-idle', '8s']);
    for (const [name, ns] of [['c1', topo.c1], ['c2', topo.c2]] as const) await hub.join(ns, name);
    await waitUntil(async () => (await execInAsync(topo.c1, 'ping', ['-c', '1', '-W', '1', INNER.c2], 5_000)).code === 0, 20_000, 'c1 -> c2 through the hub');
  });

  beforeEach((context) => {
    context.onTestFailed(() => console.log(`hub output (tail):\n${hub?.output().slice(-4000) ?? ''}`));
  });

  afterAll(async () => {
    await hub?.close();
    topo?.destroy();
  });

  it('slow traffic makes no shortcut', async () => {
    const ping = await execInAsync(topo.c1, 'ping', ['-q', '-i', '0.2', '-w', '3', INNER.c2], 10_000);
    expect(pingSummary(ping.stdout).received).toBeGreaterThan(0);
    expect(await shortcutLinks()).toEqual([]);
    expect(routeTo(topo.c1, INNER.c2)).toMatch(/dev tnl-hub/);
  });

  it('busy traffic c1 -> c2 makes a shortcut; once verified the pings go over it, not the hub, losing at most one across the switch', async () => {
    let during: { hubRx: number; sentInWindow: number } | undefined;
    let links: LinkLine[] = [];
    let table = '';
    let c1Tunnel: Record<string, unknown> | undefined;
    let switched = '';
    const begun = Date.now();
    const summary = await busyPing(30, async () => {
      const up = await waitUntil(async () => (await shortcutLinks()).find((l) => l.shortcut?.state === 'up'), 20_000, 'a shortcut verified up');
      expect(up.ends).toEqual(['c1', 'c2']);
      expect(up.why).toMatch(/^rate \d+(\.\d+)? [kMG]?bit\/s$/);
      await waitUntil(() => /dev tnl-c2/.test(routeTo(topo.c1, INNER.c2)) && /dev tnl-c1/.test(routeTo(topo.c2, INNER.c1)), 5_000, 'both ends route over the shortcut');
      // A timing, printed not asserted (bench:mesh measures it): the hub's verification, and when this test saw both ends' routes.
      switched = `first ping -> verified ${Date.parse(up.shortcut!.verifiedAt!) - begun} ms, both ends routing over it seen at ${Date.now() - begun} ms (threshold 200 kbit/s for 1 s)`;
      // The hub's tunnels from c1 and c2 no longer carry the 100 pings a second.
      const before = (await hubRx('c1')) + (await hubRx('c2'));
      const start = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const after = (await hubRx('c1')) + (await hubRx('c2'));
      during = { hubRx: after - before, sentInWindow: Math.round((performance.now() - start) / 10) };
      // While the pings cross it: link list with the live rate, and the member's status.
      links = await waitUntil(async () => {
        const list = JSON.parse(await hubCli(['link', 'list', '--json'])) as LinkLine[];
        return list.some((l) => (l.rate ?? 0) > 100_000) ? list : undefined;
      }, 10_000, 'a live rate in link list');
      table = await hubCli(['link', 'list']);
      c1Tunnel = statusIn(topo.c1, join(hub!.dir, 'c1')).tunnels.find((t) => t.name === 'tnl-c2');
    });
    console.log(`shortcut: ${switched}`);
    console.log(`shortcut: pings ${summary.received}/${summary.sent}; hub rx from c1+c2 while ${during!.sentInWindow} pings were sent on the shortcut: ${during!.hubRx} packets; link list rate ${links[0]?.rate ?? '-'} bit/s`);
    expect(during!.hubRx).toBeLessThan(during!.sentInWindow / 10);
    expect(summary.sent - summary.received).toBeLessThanOrEqual(1);
    expect(links).toEqual([expect.objectContaining({ ends: ['c1', 'c2'], kind: 'shortcut', why: expect.stringMatching(/^rate /) as unknown })]);
    expect(links[0]!.age).toBeGreaterThanOrEqual(0);
    expect(links[0]!.rate).toBeGreaterThan(100_000);
    expect(table).toMatch(/c1\s+c2\s+10\.1\.13\.\d+\/30 .* shortcut\s+\d+s\s+\S+.*rate /);
    expect(c1Tunnel).toMatchObject({ kind: 'shortcut', why: expect.stringMatching(/^rate /) as unknown });
    expect((await hubStatus()).shortcuts?.counts.made).toBe(1);
  });

  it('idle past --shortcut-idle, the shortcut is removed and traffic goes through the hub again without loss', async () => {
    await waitUntil(async () => (await shortcutLinks()).length === 0, 30_000, 'the idle shortcut removed');
    const status = await hubStatus();
    expect(status.shortcuts?.counts.removed).toEqual({ idle: 1 });
    expect(JSON.parse(await hubCli(['link', 'list', '--json']))).toEqual([]);
    const metrics = execIn(topo.hub, 'curl', ['-sf', 'http://127.0.0.1:9470/metrics']);
    expect(metrics).toMatch(/^tunnel_shortcuts_made_total 1$/m);
    expect(metrics).toMatch(/^tunnel_shortcuts_removed_total\{reason="idle"\} 1$/m);
    await waitUntil(() => /dev tnl-hub/.test(routeTo(topo.c1, INNER.c2)), 5_000, 'c1 routing c2 through the hub');
    const before = await hubRx('c1');
    const ping = await execInAsync(topo.c1, 'ping', ['-q', '-c', '50', '-i', '0.02', INNER.c2], 20_000);
    expect(pingSummary(ping.stdout)).toEqual({ sent: 50, received: 50 });
    expect((await hubRx('c1')) - before).toBeGreaterThanOrEqual(50);
  });

  it('peer set c1 --shortcuts off: busy traffic makes none', async () => {
    await hubCli(['peer', 'set', 'c1', '--shortcuts', 'off']);
    const summary = await busyPing(5, async () => {});
    expect(summary.received).toBeGreaterThan(summary.sent * 0.9);
    expect(await shortcutLinks()).toEqual([]);
    expect((await hubStatus()).shortcuts?.counts.made).toBe(1);
    await hubCli(['peer', 'set', 'c1', '--shortcuts', 'on']);
  });

  it('a shortcut that stops carrying (nftables drops it at c1) is removed, the pings go on through the hub, and the pair waits out its backoff', async () => {
    const removedBefore = (await hubStatus()).shortcuts?.counts.removed.failed ?? 0;
    let summary: { sent: number; received: number };
    try {
      summary = await busyPing(25, async () => {
        await waitUntil(async () => (await shortcutLinks()).some((l) => l.shortcut?.state === 'up'), 20_000, 'a shortcut up again');
        await waitUntil(() => /dev tnl-c2/.test(routeTo(topo.c1, INNER.c2)), 5_000, 'c1 routing over the shortcut');
        // c2's side of the shortcut arrives from its NAT's address; the hub links stay untouched.
        execIn(topo.c1, 'nft', ['-f', '-'], `table inet cut {
  chain in { type filter hook input priority -10; ip saddr 192.0.2.20 drop; }
  chain out { type filter hook output priority -10; ip daddr 192.0.2.20 drop; }
}
`);
        await waitUntil(async () => (await shortcutLinks()).length === 0, 15_000, 'the broken shortcut removed');
        await waitUntil(() => /dev tnl-hub/.test(routeTo(topo.c1, INNER.c2)), 5_000, 'c1 routing c2 through the hub again');
      });
    } finally {
      execIn(topo.c1, 'nft', ['delete', 'table', 'inet', 'cut']);
    }
    const status = await hubStatus();
    expect(status.shortcuts?.counts.removed.failed).toBeGreaterThan(removedBefore);
    expect(status.shortcuts?.counts.failed.unanswered).toBeGreaterThanOrEqual(1);
    expect(status.shortcuts?.failures).toEqual([
      expect.objectContaining({ ends: ['c1', 'c2'], reason: 'unanswered' }),
    ]);
    // What was lost is bounded by the liveness timeout (3 s: 300 pings) and the switch back.
    console.log(`shortcut cut: pings ${summary.received}/${summary.sent}`);
    expect(summary.sent - summary.received).toBeLessThan(600);
    const after = await execInAsync(topo.c1, 'ping', ['-q', '-c', '20', '-i', '0.05', INNER.c2], 10_000);
    expect(pingSummary(after.stdout)).toEqual({ sent: 20, received: 20 });
  });

  it('serve --shortcuts off: busy traffic makes none', async () => {
    await hub!.stop();
    await startHub(['--shortcuts', 'off']);
    await waitUntil(async () => (await execInAsync(topo.c1, 'ping', ['-c', '1', '-W', '1', INNER.c2], 5_000)).code === 0, 30_000, 'c1 -> c2 through the restarted hub');
    const summary = await busyPing(5, async () => {});
    expect(summary.received).toBeGreaterThan(summary.sent * 0.9);
    expect(await shortcutLinks()).toEqual([]);
    expect((await hubStatus()).shortcuts?.counts.made ?? 0).toBe(0);
    expect(routeTo(topo.c1, INNER.c2)).toMatch(/dev tnl-hub/);
  });

  it('a revoke removes the member\'s shortcut at both ends', async () => {
    await hub!.stop();
    await startHub(['--shortcuts', 'auto', '--shortcut-idle', '1m']);
    await waitUntil(async () => (await execInAsync(topo.c1, 'ping', ['-c', '1', '-W', '1', INNER.c2], 5_000)).code === 0, 30_000, 'c1 -> c2 through the restarted hub');
    await busyPing(25, async () => {
      await waitUntil(async () => (await shortcutLinks()).some((l) => l.shortcut?.state === 'up'), 20_000, 'a shortcut up');
      expect(statusIn(topo.c1, join(hub!.dir, 'c1')).tunnels.map((t) => t.name)).toContain('tnl-c2');
    });
    await hubCli(['peer', 'revoke', 'c2']);
    await waitUntil(async () => (await shortcutLinks()).length === 0, 10_000, 'the revoked member\'s shortcut removed');
    expect((await hubStatus()).shortcuts?.counts.removed).toEqual({ 'member-revoked': 1 });
    await waitUntil(() => !statusIn(topo.c1, join(hub!.dir, 'c1')).tunnels.some((t) => t.name === 'tnl-c2'), 5_000, 'c1 without its shortcut tunnel');
    expect(JSON.parse(await hubCli(['link', 'list', '--json']))).toEqual([]);
  });
});

/**
 * The NAT topology with a second NAT: nat2 203.0.113.130/25 on the wan (its own /25 inside c1's
 * /24, so c1 takes no part here) with c3 192.168.78.2 behind it. nat2 masquerades like nat, port
 * preserving (endpoint-independent mapping), or with `symmetric` a random port per flow.
 */
function addSecondNat(topo: NatTopology, symmetric: boolean): { nat2: string; c3: string; destroy(): void } {
  const nat2 = `${topo.prefix}nat2`;
  const c3 = `${topo.prefix}c3`;
  createNamespaces([nat2, c3]);
  addVethLink({ namespace: nat2, interfaceName: `${topo.prefix}n2o`, cidr: '203.0.113.130/25' }, { namespace: topo.wan, interfaceName: `${topo.prefix}wan2`, cidr: '203.0.113.129/25' });
  addVethLink({ namespace: c3, interfaceName: `${topo.prefix}c30`, cidr: '192.168.78.2/24' }, { namespace: nat2, interfaceName: `${topo.prefix}n2i`, cidr: '192.168.78.1/24' });
  execIn(nat2, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  execIn(nat2, 'ip', ['route', 'add', 'default', 'via', '203.0.113.129']);
  execIn(c3, 'ip', ['route', 'add', 'default', 'via', '192.168.78.1']);
  execIn(nat2, 'nft', ['-f', '-'], `table ip nat {
  chain post { type nat hook postrouting priority 100; oifname "${topo.prefix}n2o" masquerade${symmetric ? ' random' : ''}; }
}
table ip filter {
  chain forward_filter { type filter hook forward priority 0; ip protocol { 4, 47 } drop; }
}
`);
  // Both NAT routers drop what arrives unsolicited for themselves, as a home router does. Linux's
  // conntrack would otherwise record a peer's first punching packet as a flow of its own and give
  // its member's packets toward that peer another port, which no NAT with endpoint-independent
  // mapping does.
  for (const [router, outside] of [[topo.nat, `${topo.prefix}nato`], [nat2, `${topo.prefix}n2o`]] as const) {
    execIn(router, 'nft', ['-f', '-'], `table ip guard {
  chain in { type filter hook input priority 0; iifname "${outside}" drop; }
}
`);
  }
  return { nat2, c3, destroy: () => deleteNamespaces([nat2, c3]) };
}

for (const symmetric of [false, true]) {
  describe.skipIf(reason !== null)(`automatic shortcuts through two NATs: c2 behind nat, c3 behind nat2 ${symmetric ? '(symmetric: a random port per flow)' : '(endpoint-independent mapping)'}`, () => {
    /** c2's hub link .0/30 (c2 .2), c3's .4/30 (c3 .6). */
    const C3 = '10.1.14.6';
    let topo: NatTopology;
    let second: { nat2: string; c3: string; destroy(): void } | undefined;
    let hub: NetnsHub | undefined;
    const hubStatus = async (): Promise<HubStatusJson> => JSON.parse(await hub!.cli(['status', '--json'])) as HubStatusJson;

    beforeAll(async () => {
      topo = createNatTopology();
      second = addSecondNat(topo, symmetric);
      hub = await createNetnsHub(topo.hub, { endpoint: HUB, pool: '10.1.14.0/24', tmpPrefix: 'tunnel-shortcuts-nat-' });
      await hub.serve(['--keepalive', '0.5', '--liveness-timeout', '3', '--path-keepalive', '1', '--shortcut-threshold', '200kbit:1s']);
      for (const [name, ns] of [['c2', topo.c2], ['c3', second.c3]] as const) await hub.join(ns, name);
      await waitUntil(async () => (await execInAsync(topo.c2, 'ping', ['-c', '1', '-W', '1', C3], 5_000)).code === 0, 20_000, 'c2 -> c3 through the hub');
    });

    beforeEach((context) => {
      context.onTestFailed(() => console.log(`hub output (tail):\n${hub?.output().slice(-4000) ?? ''}`));
    });

    afterAll(async () => {
      await hub?.close();
      second?.destroy();
      topo?.destroy();
    });

    if (!symmetric) {
      it('busy pings c2 -> c3 make a hole-punched FOU shortcut both route over once verified, losing at most one', async () => {
        const ping = execInAsync(topo.c2, 'ping', ['-q', ...BUSY_PING, '-w', '25', C3], 45_000);
        const up = await waitUntil(async () => (await hubStatus()).links.find((l) => l.kind === 'shortcut' && l.shortcut?.state === 'up'), 20_000, 'a shortcut up');
        expect(up.ends).toEqual(['c2', 'c3']);
        await waitUntil(() => /dev tnl-c3/.test(execIn(topo.c2, 'ip', ['route', 'get', C3])), 5_000, 'c2 routing c3 over the shortcut');
        const tunnel = statusIn(topo.c2, join(hub!.dir, 'c2')).tunnels.find((t) => t.name === 'tnl-c3');
        expect(tunnel).toMatchObject({ kind: 'shortcut', encap: 'fou', remote: '203.0.113.130' });
        const summary = pingSummary((await ping).stdout);
        console.log(`shortcut through two NATs: pings ${summary.received}/${summary.sent}`);
        expect(summary.sent - summary.received).toBeLessThanOrEqual(1);
      });
    } else {
      it('busy pings c2 -> c3 stay on the hub: the shortcut fails as symmetric-nat, is removed, and no ping is lost', async () => {
        const ping = execInAsync(topo.c2, 'ping', ['-q', ...BUSY_PING, '-w', '20', C3], 40_000);
        const failure = await waitUntil(async () => (await hubStatus()).shortcuts?.failures.find((f) => f.ends.join() === 'c2,c3'), 25_000, 'the shortcut failed');
        expect(failure.reason).toBe('symmetric-nat');
        await waitUntil(async () => !(await hubStatus()).links.some((l) => l.kind === 'shortcut'), 10_000, 'the failed shortcut removed');
        expect(execIn(topo.c2, 'ip', ['route', 'get', C3])).toMatch(/dev tnl-hub/);
        const summary = pingSummary((await ping).stdout);
        console.log(`symmetric NAT: pings ${summary.received}/${summary.sent}`);
        expect(summary.sent - summary.received).toBeLessThanOrEqual(1);
        const counts = (await hubStatus()).shortcuts?.counts;
        expect(counts).toMatchObject({ made: 1, failed: { 'symmetric-nat': 1 }, removed: { failed: 1 } });
      });
    }
  });
}

