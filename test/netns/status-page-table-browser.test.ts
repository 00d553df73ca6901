import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusViewPeer } from '../../server/admin/status-view.js';
import { chromiumUnavailableReason, launchChromium, type HeadlessChromium } from '../helpers/headless-chromium.js';
import { SimulatedHub, startStatusPageServer } from '../helpers/status-page-fixture.js';

const reason = chromiumUnavailableReason();
if (reason) console.warn(`SKIPPING the status table browser test: ${reason}`);

const MEMBERS = 5_000;
/** Where a screenshot of the table goes when set (the README's picture). */
const SCREENSHOT = process.env.TUNNEL_STATUS_TABLE_SCREENSHOT;
/** The table draws the rows in sight and a few more: far fewer than the members. */
const MAX_DRAWN = 80;

describe.skipIf(reason !== null)('the status page\'s table of 5,000 members in headless Chromium', () => {
  // The real page, stream and admin server, fed a simulated hub instead of 5,000 tunnels.
  const hub = new SimulatedHub({ members: MEMBERS, busy: 0.1, hubs: ['hub-a', 'hub-b', 'hub-c'] });
  let server: Awaited<ReturnType<typeof startStatusPageServer>>;
  let browser: HeadlessChromium;
  let page: Page;

  const collator = new Intl.Collator('en', { numeric: true });
  const byName = (a: StatusViewPeer, b: StatusViewPeer): number => collator.compare(a.name, b.name);
  /** The members a search for `words` finds, computed here from the simulated hub, not by the page's code. */
  const found = (words: string, keep: (peer: StatusViewPeer) => boolean = () => true): StatusViewPeer[] =>
    hub.members().filter((peer) => keep(peer) && words.toLowerCase().split(' ').filter(Boolean)
      .every((word) => [peer.name, peer.inner, peer.seen ?? '', peer.reported ?? ''].some((text) => text.toLowerCase().includes(word))));
  const drawn = (): Promise<{ peer: string; state: string; cells: Record<string, string> }[]> => page.$$eval('#rows .row', (rows) => rows.map((row) => ({
    peer: (row as HTMLElement).dataset.peer ?? '',
    state: (row as HTMLElement).dataset.state ?? '',
    cells: Object.fromEntries([...row.children].map((cell) => [cell.className.replace('c-', ''), cell.textContent ?? ''])),
  })));
  const shown = (): Promise<string | null> => page.textContent('#shown');
  const count = (n: number): string => `${n.toLocaleString('en')} of ${MEMBERS.toLocaleString('en')} peers`;
  const search = async (text: string): Promise<void> => {
    await page.fill('#search', text);
  };

  beforeAll(async () => {
    server = await startStatusPageServer(() => hub.view());
    browser = await launchChromium({ width: 1280, height: 800 });
    page = await browser.context.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#rows .row', { timeout: 20_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('opens on the table, not 5,000 cards, and draws only the rows in sight, in order', async () => {
    expect(await shown()).toBe(count(MEMBERS));
    expect(await page.getAttribute('#scroller', 'aria-rowcount')).toBe(String(MEMBERS + 1));
    expect(await page.locator('#peers article').count()).toBe(0);
    const first = await drawn();
    expect(first.length).toBeGreaterThan(10);
    expect(first.length).toBeLessThanOrEqual(MAX_DRAWN);
    // Up first, then by name with numbers as numbers: the view's own order.
    const expected = [...hub.members()].sort((a, b) => (a.state === b.state ? byName(a, b) : a.state === 'up' ? -1 : 1));
    expect(first.map((row) => row.peer)).toEqual(expected.slice(0, first.length).map((peer) => peer.name));

    await page.$eval('#scroller', (scroller) => { scroller.scrollTop = scroller.scrollHeight; });
    await expect.poll(async () => (await drawn()).at(-1)?.peer, { timeout: 5_000 }).toBe(expected.at(-1)?.name);
    const last = await drawn();
    expect(last.length).toBeLessThanOrEqual(MAX_DRAWN);
    expect(last.every((row) => row.state === 'down')).toBe(true);
    await page.$eval('#scroller', (scroller) => { scroller.scrollTop = 0; });
  });

  it('finds members by name, inner address and endpoint, every word, with the count', async () => {
    await search('member-4321');
    await expect.poll(shown).toBe(count(1));
    expect((await drawn()).map((row) => row.peer)).toEqual(['member-4321']);

    const target = hub.members().find((peer) => peer.name === 'member-1234');
    await search(target?.inner ?? '');
    await expect.poll(shown).toBe(count(found(target?.inner ?? '').length));
    expect((await drawn()).map((row) => row.peer)).toContain('member-1234');

    await search('203.0.113.77');
    const atEndpoint = found('203.0.113.77');
    expect(atEndpoint.length).toBeGreaterThan(3);
    await expect.poll(shown).toBe(count(atEndpoint.length));
    expect((await drawn()).map((row) => row.peer).sort()).toEqual(atEndpoint.map((peer) => peer.name).sort());

    // Two words: both must be found; a private address only a member behind a NAT reports.
    await search('MEMBER-1 192.168.');
    await expect.poll(shown).toBe(count(found('member-1 192.168.').length));
    await search('nobody-here');
    await expect.poll(shown).toBe(count(0));
    expect(await page.isVisible('#nomatch')).toBe(true);
    expect(await drawn()).toEqual([]);
    await search('');
    await expect.poll(shown).toBe(count(MEMBERS));
  });

  it('filters by state, encapsulation and serving hub, alone and together with a search', async () => {
    await page.selectOption('#filter-state', 'down');
    const down = hub.members().filter((peer) => peer.state === 'down');
    expect(down.length).toBeGreaterThan(100);
    await expect.poll(shown).toBe(count(down.length));
    expect((await drawn()).every((row) => row.state === 'down')).toBe(true);

    await page.selectOption('#filter-state', '');
    await page.selectOption('#filter-encap', 'gue');
    await page.selectOption('#filter-hub', 'hub-b');
    const gueOnB = hub.members().filter((peer) => peer.encap === 'gue' && peer.hub === 'hub-b');
    await expect.poll(shown).toBe(count(gueOnB.length));
    expect((await drawn()).every((row) => row.cells.encap === 'gue' && row.cells.hub === 'hub-b')).toBe(true);

    await search('member-2');
    await expect.poll(shown).toBe(count(found('member-2', (peer) => peer.encap === 'gue' && peer.hub === 'hub-b').length));
    await search('');
    await page.selectOption('#filter-encap', '');
    await page.selectOption('#filter-hub', '');
    await expect.poll(shown).toBe(count(MEMBERS));
  });

  it('sorts by a column from its head, both ways, by mouse and by keyboard', async () => {
    await page.click('.head button[data-sort="name"]');
    expect(await page.getAttribute('.head .c-name', 'aria-sort')).toBe('ascending');
    const names = hub.members().sort(byName).map((peer) => peer.name);
    await expect.poll(async () => (await drawn()).slice(0, 5).map((row) => row.peer)).toEqual(names.slice(0, 5));
    await page.click('.head button[data-sort="name"]');
    expect(await page.getAttribute('.head .c-name', 'aria-sort')).toBe('descending');
    await expect.poll(async () => (await drawn())[0]?.peer).toBe(names.at(-1));

    // Rates: busiest first. The simulated members carry fixed, distinct rates, so the order is known.
    const busiest = (key: 'rx' | 'tx'): string[] => [...hub.rates].sort((a, b) => b[1][key] - a[1][key]).slice(0, 3).map(([name]) => name);
    await page.click('.head button[data-sort="rx"]');
    expect(await page.getAttribute('.head .c-rx', 'aria-sort')).toBe('descending');
    await expect.poll(async () => (await drawn()).slice(0, 3).map((row) => row.peer), { timeout: 5_000 }).toEqual(busiest('rx'));
    await page.focus('.head button[data-sort="tx"]');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await drawn()).slice(0, 3).map((row) => row.peer), { timeout: 5_000 }).toEqual(busiest('tx'));
    expect((await drawn())[0]?.cells.tx).toBe('5.00 Mbit/s');
    await page.click('.head button[data-sort="state"]');
    await expect.poll(async () => (await drawn())[0]?.peer).toBe('member-1');
    if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT });
  });

  it('moves between rows with the keyboard and opens a member\'s whole card', async () => {
    await page.focus('#rows .row .open');
    await page.keyboard.press('End');
    const expected = [...hub.members()].sort((a, b) => (a.state === b.state ? byName(a, b) : a.state === 'up' ? -1 : 1));
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe(expected.at(-1)?.name);
    await page.keyboard.press('ArrowUp');
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe(expected.at(-2)?.name);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`#detail article[data-peer="${expected.at(-2)?.name}"]`);
    expect(await page.textContent('#detail [data-field="hub"]')).toBe(expected.at(-2)?.hub);
    expect((await drawn()).length).toBeLessThanOrEqual(MAX_DRAWN);
    await page.click('#detail-close');
    expect(await page.isVisible('#detail')).toBe(false);
    await page.keyboard.press('Home');
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search');
  });

  it('follows the hub through the stream\'s deltas: a member going down shows down', async () => {
    // By name, member-2 leads what the search finds whatever its state.
    await page.click('.head button[data-sort="name"]');
    await search('member-2');
    await expect.poll(async () => (await drawn()).find((row) => row.peer === 'member-2')?.state).toBe('up');
    hub.setState('member-2', 'down');
    await expect.poll(async () => (await drawn()).find((row) => row.peer === 'member-2')?.state, { timeout: 5_000 }).toBe('down');
    hub.setState('member-2', 'up');
    await expect.poll(async () => (await drawn()).find((row) => row.peer === 'member-2')?.state, { timeout: 5_000 }).toBe('up');
    expect((await drawn())[0]?.peer).toBe('member-2');
    await search('');
    // Self-contained: the page and its stream, nothing else.
    expect(browser.requests.every((url) => url.startsWith(`${server.url}/`))).toBe(true);
  });

  it('marks a pair that is direct on the member\'s card, and says nothing of it for the others', async () => {
    await search('member-1');
    await page.click('#rows .row .open:text-is("member-1")');
    await page.waitForSelector('#detail article[data-peer="member-1"]');
    expect(await page.textContent('#detail [data-field="direct"]')).toBe('member-2 (shortcut)');
    await page.click('#detail-close');
    await search('member-3');
    await page.click('#rows .row .open:text-is("member-3")');
    await page.waitForSelector('#detail article[data-peer="member-3"]');
    expect(await page.isVisible('#detail [data-field="direct"]')).toBe(false);
    await page.click('#detail-close');
    await search('');
  });
});
