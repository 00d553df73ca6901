import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliIn, startCli, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { createNatTopology, execInAsync, startNodeIn, type NatTopology } from '../helpers/netns.js';
import { metricValue } from '../helpers/prometheus-text.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { testScript } from '../helpers/test-scripts.js';
import type { AttackOutcome } from '../scripts/front-door-attacker.js';

const reason = netnsUnavailableReason();
if (reason) console.warn(`SKIPPING the front-door abuse test: ${reason}`);

const HUB = '198.51.100.1';
const CONNECTIONS = 1_000;
const BAD_LOGINS = 500;

/** RSS (KiB) and open descriptors of a process, from /proc. */
function footprint(pid: number): { rssKiB: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN), fds: readdirSync(`/proc/${pid}/fd`).length };
}

describe.skipIf(reason !== null)('front doors under abuse from one source, with a member joining meanwhile', () => {
  let topo: NatTopology;
  let dir: string;
  let hub: CliProcess;
  let member: CliProcess | undefined;

  beforeAll(async () => {
    topo = createNatTopology();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-abuse-'));
    await runCliIn(topo.hub, 'server', ['--state', join(dir, 'hub'), 'init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    // The defaults an operator gets: no limit is loosened or tightened for the test.
    hub = startCli(topo.hub, 'server', ['--state', join(dir, 'hub'), 'serve', '--listen', HUB]);
    await waitUntil(() => /hub listening/.test(hub.output()), 20_000, () => `hub listening: ${hub.output()}`);
  });
  afterAll(async () => {
    await member?.stop();
    await hub?.stop();
    topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${CONNECTIONS} connections and ${BAD_LOGINS} bad logins: a member still joins and pings, the hub's RSS and descriptors stay bounded`, async () => {
    const pid = hub.child.pid ?? 0;
    const scrape = async (): Promise<string> => (await execInAsync(topo.hub, process.execPath, [testScript('http-get'), 'http://127.0.0.1:9470/metrics'])).stdout;
    const refusedTotal = (text: string): number => ['rate', 'source-pending', 'login-backoff']
      .reduce((sum, why) => sum + (metricValue(text, `tunnel_frontdoor_refused_connections_total{door="ws",reason="${why}"}`) ?? 0), 0);
    // The baseline is taken once the new hub has had a second to settle (lazy loading, first allocations).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const baseline = footprint(pid);
    const samples: { rssKiB: number; fds: number }[] = [];
    const sampler = setInterval(() => samples.push(footprint(pid)), 100);

    // The attacker (test/scripts/front-door-attacker.ts), from one address: c2, behind the NAT, so every flow leaves as 192.0.2.20.
    const attacker = startNodeIn(topo.c2, testScript('front-door-attacker'), [HUB, String(CONNECTIONS), String(BAD_LOGINS)], 300_000);
    await attacker.ready;
    await waitUntil(async () => refusedTotal(await scrape()) > 0, 20_000, 'the hub to refuse part of the attack');

    // Meanwhile a healthy member, from another address, joins and passes traffic.
    const invite = (await runCliIn(topo.hub, 'server', ['--state', join(dir, 'hub'), 'invite', 'create'])).trim();
    const joinStarted = Date.now();
    member = startCli(topo.c1, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', 'c1', '--state', join(dir, 'c1')]);
    await waitUntil(() => /tnl-hub up/.test(member?.output() ?? ''), 20_000, () => `c1 joined despite the attack: ${member?.output() ?? ''}`);
    const joinMs = Date.now() - joinStarted;
    const ping = await execInAsync(topo.c1, 'ping', ['-c', '10', '-i', '0.2', '-W', '2', '10.1.12.1'], 20_000);
    expect(ping.stdout).toMatch(/10 received/);

    const outcome = (await attacker.result) as AttackOutcome;
    clearInterval(sampler);
    const peak = { rssKiB: Math.max(...samples.map((s) => s.rssKiB)), fds: Math.max(...samples.map((s) => s.fds)) };
    const after = footprint(pid);
    console.log(`abuse: member joined in ${joinMs} ms; attacker ${JSON.stringify(outcome)}; hub RSS ${baseline.rssKiB} -> peak ${peak.rssKiB} -> ${after.rssKiB} KiB, fds ${baseline.fds} -> peak ${peak.fds} -> ${after.fds}`);

    // Every connection was accounted for: refused at once, or closed by the hub's deadline.
    expect(outcome.refusedAtOnce + outcome.closedLater).toBe(CONNECTIONS);
    expect(outcome.stillOpen).toBe(0);
    expect(outcome.refusedAtOnce).toBeGreaterThan(CONNECTIONS / 2);
    expect(Object.values(outcome.upgrades).reduce((a, b) => a + b, 0)).toBe(BAD_LOGINS);
    expect(outcome.upgrades['101']).toBeUndefined();
    // Five free failures, then waits: almost every bad login never even reaches the token check.
    expect(outcome.upgrades['401'] ?? 0).toBeLessThan(20);

    // At most 32 of the attacker's connections are open at once (its pending cap); the member
    // adds its control connection, TUN, raw and UDP sockets. Memory stays within a bounded margin.
    expect(peak.fds - baseline.fds).toBeLessThanOrEqual(32 + 24);
    expect(peak.rssKiB - baseline.rssKiB).toBeLessThan(64 * 1024);
    expect(after.fds - baseline.fds).toBeLessThanOrEqual(16);

    const text = await scrape();
    expect(refusedTotal(text)).toBeGreaterThanOrEqual(outcome.refusedAtOnce);
    expect(metricValue(text, 'tunnel_frontdoor_timeouts_total{door="ws",phase="handshake"}')).toBeGreaterThanOrEqual(outcome.closedLater - 5);
    expect(metricValue(text, 'tunnel_auth_failures_total{door="ws",code="ERR_TOKEN_INVALID"}')).toBe(outcome.upgrades['401'] ?? 0);
    expect(metricValue(text, 'tunnel_peers{state="up"}')).toBe(1);
  });
});
