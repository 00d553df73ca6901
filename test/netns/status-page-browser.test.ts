import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliIn, startCli, type CliProcess } from '../helpers/control-processes.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testScript } from '../helpers/test-scripts.js';
import { chromiumUnavailableReason, launchChromium, loopbackBridge, type HeadlessChromium } from '../helpers/headless-chromium.js';
import { createNatTopology, execInAsync, startNodeIn, type NatTopology, type StartedNode } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';

const reason = netnsUnavailableReason() ?? chromiumUnavailableReason();
if (reason) console.warn(`SKIPPING the status page browser test: ${reason}`);

const HUB = '198.51.100.1';
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
/** Where a copy of the final screenshot goes when set (the README's picture). */
const SCREENSHOT_COPY = process.env.TUNNEL_STATUS_SCREENSHOT;

describe.skipIf(reason !== null)('the live status page in headless Chromium', () => {
  let topo: NatTopology;
  let dir: string;
  let hub: CliProcess;
  const members = new Map<string, CliProcess>();
  let forwarder: StartedNode;
  let bridge: ReturnType<typeof loopbackBridge>;
  let browser: HeadlessChromium;
  let page: Page;
  let base: string;

  const join_ = async (namespace: string, name: string): Promise<number> => {
    const invite = (await runCliIn(topo.hub, 'server', ['--state', join(dir, 'hub'), 'invite', 'create'])).trim();
    const member = startCli(namespace, 'client', ['join', `ws://${HUB}:8443`, '--token', invite, '--name', name, '--state', join(dir, name)]);
    members.set(name, member);
    await waitUntil(() => /tnl-hub up/.test(member.output()), 20_000, () => `${name} joined: ${member.output()}`);
    return Date.now();
  };
  const card = (name: string, state: 'up' | 'down') => `article[data-peer="${name}"][data-state="${state}"]`;

  beforeAll(async () => {
    topo = createNatTopology();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-page-'));
    await runCliIn(topo.hub, 'server', ['--state', join(dir, 'hub'), 'init', '--endpoint', HUB, '--pool', '10.1.12.0/24']);
    hub = startCli(topo.hub, 'server', ['--state', join(dir, 'hub'), 'serve', '--listen', HUB]);
    await waitUntil(() => /hub listening/.test(hub.output()), 20_000, () => `hub listening: ${hub.output()}`);
    // The admin listener is the hub namespace's 127.0.0.1:9470; a UNIX socket carries it here.
    const socketPath = join(dir, 'admin.sock');
    forwarder = startNodeIn(topo.hub, testScript('unix-socket-forwarder'), [socketPath, '9470'], 600_000);
    await forwarder.ready;
    bridge = loopbackBridge(socketPath);
    base = `http://127.0.0.1:${await bridge.listen()}`;
    browser = await launchChromium({ width: 390, height: 640 });
    page = await browser.context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    bridge?.close();
    forwarder?.kill();
    for (const member of members.values()) await member.stop();
    await hub?.stop();
    topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows a member up within 2 s of its joining, with its traffic, and down once it leaves', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('#live.on', { timeout: 5_000 });
    expect(await page.textContent('#summary')).toBe('0 of 0 peers up');

    const c1Joined = await join_(topo.c1, 'c1');
    await page.waitForSelector(card('c1', 'up'), { timeout: 2_000 });
    const c1Shown = Date.now() - c1Joined;
    const c2Joined = await join_(topo.c2, 'c2');
    await page.waitForSelector(card('c2', 'up'), { timeout: 2_000 });
    const c2Shown = Date.now() - c2Joined;
    console.log(`status page: c1 up ${c1Shown} ms, c2 up ${c2Shown} ms after each printed its tunnel up`);

    const c2 = page.locator('article[data-peer="c2"]');
    await expect.poll(() => c2.locator('[data-field="encap"]').textContent(), { timeout: 20_000 }).toMatch(/^fou — /);
    expect(await c2.locator('[data-field="endpoint"]').textContent()).toBe(`${topo.addresses.natOutside} (reports ${topo.addresses.c2}, behind NAT)`);
    expect(await c2.locator('[data-field="subnet"]').textContent()).toMatch(/^10\.1\.12\.\d+\/30 \(member 10\.1\.12\.\d+\)$/);
    expect(await page.locator('article[data-peer="c1"] [data-field="encap"]').textContent()).toBe('gre — public');
    // A LAN behind c2: once routed, its card lists the prefix.
    await runCliIn(topo.hub, 'server', ['--state', join(dir, 'hub'), 'peer', 'route', 'add', 'c2', '10.77.0.0/24']);
    await expect.poll(() => c2.locator('[data-field="routes"]').textContent(), { timeout: 5_000 }).toContain('10.77.0.0/24');

    // Traffic both ways through both tunnels (to the hub's end of each /30): the page turns the
    // counters into rates.
    const hubEnd = async (name: string): Promise<string> => {
      const subnet = await page.locator(`article[data-peer="${name}"] [data-field="subnet"]`).textContent() ?? '';
      const [a, b, c, d] = subnet.split('/')[0]?.split('.').map(Number) ?? [];
      return `${a}.${b}.${c}.${(d ?? 0) + 1}`;
    };
    const targets = [[topo.c1, await hubEnd('c1')], [topo.c2, await hubEnd('c2')]] as const;
    const pings = targets.map(([ns, target]) => execInAsync(ns, 'ping', ['-c', '60', '-i', '0.05', '-s', '1200', '-W', '1', target], 20_000));
    await expect.poll(() => c2.locator('[data-field="traffic"]').textContent(), { timeout: 5_000 }).toMatch(/^in [0-9.]+ [kM]bit\/s · out [0-9.]+ [kM]bit\/s$/);
    for (const ping of await Promise.all(pings)) expect(ping.stdout).toMatch(/ 60 received/);
    expect(await c2.locator('[data-field="totals"]').textContent()).toMatch(/^in [0-9.]+ kB · out [0-9.]+ kB/);

    const leaving = Date.now();
    await members.get('c1')?.stop();
    await page.waitForSelector(card('c1', 'down'), { timeout: 2_000 });
    console.log(`status page: c1 down ${Date.now() - leaving} ms after SIGTERM`);
    expect(await page.textContent('#summary')).toBe('1 of 2 peers up');
    const c1 = page.locator('article[data-peer="c1"]');
    expect(await c1.locator('[data-field="seen"]').textContent()).toMatch(/^\d+ s ago$/);
    // A member that is down has no traffic rate, only the totals its tunnel carried.
    expect(await c1.locator('[data-field="traffic"]').textContent()).toBe('—');
    expect(await c1.locator('[data-field="totals"]').textContent()).toMatch(/^in [0-9.]+ kB · out [0-9.]+ kB/);
    // Versions: the hub's in the header, each member's from its hello on its card.
    expect(await page.textContent('#hub')).toBe(`hub ${HUB} · ws 8443 · ssh 2222 · tunnel-hub ${VERSION}`);
    for (const card of [c1, c2]) expect(await card.locator('[data-field="software"]').textContent()).toBe(`tunnel-client/${VERSION}`);

    // Readable on a phone: nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    const shot = join(dir, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    if (SCREENSHOT_COPY) copyFileSync(shot, SCREENSHOT_COPY);
    // Self-contained: the page, its event stream, nothing else (no favicon either).
    expect(browser.requests.every((url) => url.startsWith(`${base}/`))).toBe(true);
  });

  it('keeps working through a reload, and the stream stays read-only', async () => {
    await page.reload();
    await page.waitForSelector(card('c2', 'up'), { timeout: 5_000 });
    // A small hub opens on cards; its table is a button away, with the same states.
    await page.click('#mode');
    await page.waitForSelector('#rows .row[data-peer="c2"][data-state="up"]', { timeout: 5_000 });
    expect(await page.getAttribute('#rows .row[data-peer="c1"]', 'data-state')).toBe('down');
    expect(await page.textContent('#shown')).toBe('2 of 2 peers');
    expect(await page.locator('#peers article').count()).toBe(0);
    await page.click('#mode');
    await page.waitForSelector(card('c2', 'up'), { timeout: 5_000 });
    const posted = await page.evaluate(async () => (await fetch('/events', { method: 'POST' })).status);
    expect(posted).toBe(405);
  });
});
