import { request } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { diffStatusViews } from '../server/admin/status-delta.js';
import { chromiumUnavailableReason, launchChromium } from '../test/helpers/headless-chromium.js';
import { SimulatedHub, startStatusPageServer } from '../test/helpers/status-page-fixture.js';
import { median } from './median.js';

// The status page with thousands of members, in headless Chromium: first paint (navigation start
// to the first table rows painted, by the Element Timing API), how fast a search or filter answers
// (input event to rows updated, and to the next frame), and the event stream's bytes at steady
// state against a full snapshot every second (what the page was sent before deltas). The page,
// stream and admin server are the real ones, fed a simulated hub (test/helpers/status-page-fixture.ts).

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 5_000);
/** The fraction of members whose counters move every second. */
const BUSY = Number(process.env.BUSY ?? 0.1);
/** Members changing state each second. */
const CHURN = Number(process.env.CHURN ?? 5);
const LOADS = Number(process.env.LOADS ?? 5);
const STREAM_SECONDS = Number(process.env.STREAM_SECONDS ?? 10);
/** The same first paint with this many members, in the same run: what the machine costs any page. */
const BASELINE_MEMBERS = Number(process.env.BASELINE_MEMBERS ?? 100);

const ms = (value: number): string => `${Math.round(value)} ms`;
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

/** In the page before its own script: marks the first table cell as it is inserted, and resolves with when it was painted. */
function watchFirstRows(): void {
  const page = window as unknown as { firstRows: Promise<{ inserted: number; painted: number }> };
  page.firstRows = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      const cell = document.querySelector('#rows .row .c-endpoint');
      if (!cell) return;
      observer.disconnect();
      // Set before the next frame, so the paint that shows the rows reports on it.
      cell.setAttribute('elementtiming', 'first-rows');
      const inserted = performance.now();
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries() as (PerformanceEntry & { identifier: string; renderTime: number; loadTime: number })[]) {
          if (entry.identifier === 'first-rows') resolve({ inserted, painted: entry.renderTime || entry.loadTime });
        }
      }).observe({ type: 'element', buffered: true });
    });
    observer.observe(document, { childList: true, subtree: true });
  });
}

/** Reads /events for `seconds` after its snapshot: the snapshot's size and each delta frame's. */
function readStream(url: string, seconds: number): Promise<{ snapshotBytes: number; deltaBytes: number[] }> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let snapshotBytes = 0;
    const deltaBytes: number[] = [];
    let timer: NodeJS.Timeout | undefined;
    const req = request(`${url}/events`, (res) => {
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 2);
          const bytes = Buffer.byteLength(frame);
          if (frame.includes('\nevent: snapshot\n')) {
            snapshotBytes = bytes;
            timer = setTimeout(() => {
              req.destroy();
              resolve({ snapshotBytes, deltaBytes });
            }, seconds * 1000);
          } else if (frame.includes('\nevent: delta\n') && timer) deltaBytes.push(bytes);
        }
      });
    });
    req.on('error', (err) => (timer ? undefined : reject(err)));
    req.end();
  });
}

async function main(): Promise<void> {
  const reason = chromiumUnavailableReason();
  if (reason) throw new Error(`bench:status-page needs Chromium: ${reason}`);
  const hub = new SimulatedHub({ members: MEMBERS, busy: BUSY, hubs: ['hub-a', 'hub-b', 'hub-c'] });
  const churn = setInterval(() => hub.churn(CHURN), 1000);
  const server = await startStatusPageServer(() => hub.view());
  const browser = await launchChromium({ width: 1280, height: 800 });
  const load = (): string => `load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} CPUs`;
  console.log(`status page: ${MEMBERS} members, ${Math.round(BUSY * 100)}% with moving counters, ${CHURN} state changes/s; headless Chromium 1280x800; ${load()}`);
  try {
    // Server side: one sample's delta against the one a second before (the first 10 warm the JIT up).
    const diffs: number[] = [];
    let before = hub.view();
    for (let i = 1; i <= 40; i += 1) {
      hub.churn(CHURN);
      const after = hub.view(before.at + 1000);
      const started = performance.now();
      diffStatusViews(before, after);
      if (i > 10) diffs.push(performance.now() - started);
      before = after;
    }
    console.log(`hub: a delta of ${MEMBERS} members computed in ${ms(median(diffs))} (median of 30), once per second for every viewer`);

    // The stream at steady state, against the whole view as JSON every second (the stream before deltas).
    const { snapshotBytes, deltaBytes } = await readStream(server.url, STREAM_SECONDS);
    const perSecond = deltaBytes.reduce((sum, bytes) => sum + bytes, 0) / STREAM_SECONDS;
    const fullBytes = Buffer.byteLength(`data: ${JSON.stringify(hub.view())}\n\n`);
    console.log(`stream: snapshot ${kib(snapshotBytes)} once; then ${deltaBytes.length} deltas in ${STREAM_SECONDS} s, ${kib(perSecond)}/s ` +
      `(median frame ${kib(median(deltaBytes))}); the whole view each second, as before deltas, is ${kib(fullBytes)}/s: ${Math.round(fullBytes / perSecond)}x as much`);

    // First paint: each load a fresh page and, with nobody else watching, a fresh sample.
    const firstPaints = async (url: string): Promise<{ painted: number; inserted: number }[]> => {
      const paints: { painted: number; inserted: number }[] = [];
      for (let i = 0; i < LOADS; i += 1) {
        const page = await browser.context.newPage();
        await page.addInitScript(watchFirstRows);
        await page.goto(`${url}/`);
        paints.push(await page.evaluate(() => (window as unknown as { firstRows: Promise<{ inserted: number; painted: number }> }).firstRows));
        await page.close();
      }
      return paints;
    };
    const paints = await firstPaints(server.url);
    console.log(`first paint (navigation start to the first table rows painted): ${paints.map((p) => ms(p.painted)).join(', ')}; ` +
      `median ${ms(median(paints.map((p) => p.painted)))} (rows in the DOM at ${ms(median(paints.map((p) => p.inserted)))})`);
    const smallHub = new SimulatedHub({ members: BASELINE_MEMBERS, busy: BUSY });
    const small = await startStatusPageServer(() => smallHub.view());
    const baseline = await firstPaints(small.url);
    await small.close();
    console.log(`first paint with ${BASELINE_MEMBERS} members, same run: ${baseline.map((p) => ms(p.painted)).join(', ')}; median ${ms(median(baseline.map((p) => p.painted)))}`);

    // A search or filter: input event to rows updated (the handler, synchronous) and to the next frame.
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#rows .row');
    await page.waitForTimeout(1500);
    const actions: [string, string][] = [
      ['#search', 'm'], ['#search', 'member-4'], ['#search', 'member-42'], ['#search', '203.0.113'], ['#search', '10.64.1'], ['#search', ''],
      ['#filter-state', 'down'], ['#filter-encap', 'gue'], ['#filter-hub', 'hub-b'], ['#filter-state', ''], ['#filter-encap', ''], ['#filter-hub', ''],
    ];
    const answers: { updated: number; framed: number; shown: string }[] = [];
    for (const [selector, value] of actions) {
      answers.push(await page.evaluate(async ([sel, val]) => {
        const input = document.querySelector(sel) as HTMLInputElement | HTMLSelectElement;
        const started = performance.now();
        input.value = val;
        input.dispatchEvent(new Event(sel === '#search' ? 'input' : 'change', { bubbles: true }));
        const updated = performance.now() - started;
        await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
        return { updated, framed: performance.now() - started, shown: document.getElementById('shown')?.textContent ?? '' };
      }, [selector, value] as const));
    }
    console.log(`filter (${actions.length} searches and filters): rows updated in median ${ms(median(answers.map((a) => a.updated)))}, max ${ms(Math.max(...answers.map((a) => a.updated)))}; ` +
      `next frame median ${ms(median(answers.map((a) => a.framed)))}, max ${ms(Math.max(...answers.map((a) => a.framed)))} (${answers.map((a) => a.shown.split(' of ')[0]).join(', ')} rows)`);

    // Real keystrokes: the Event Timing API's duration (key press to the frame after the handler), reported from 16 ms up.
    await page.evaluate(() => {
      const page = window as unknown as { inputDurations: number[] };
      page.inputDurations = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) if (entry.name === 'input' || entry.name === 'keydown') page.inputDurations.push(entry.duration);
      }).observe({ type: 'event', durationThreshold: 16, buffered: false } as PerformanceObserverInit);
    });
    await page.click('#search');
    await page.keyboard.type('member-1234', { delay: 120 });
    await page.waitForTimeout(500);
    const durations = await page.evaluate(() => (window as unknown as { inputDurations: number[] }).inputDurations);
    console.log(`typing "member-1234": ${durations.length} of 22 key and input events took 16 ms or more` +
      (durations.length > 0 ? ` (max ${ms(Math.max(...durations))})` : '') + `; ${await page.textContent('#shown')}`);
    console.log(`done; ${load()}`);
    console.log(JSON.stringify({
      members: MEMBERS, busy: BUSY, churn: CHURN, diffMs: Math.round(median(diffs)), snapshotBytes, deltaBytesPerSecond: Math.round(perSecond), fullViewBytes: fullBytes,
      firstPaintMs: paints.map((p) => Math.round(p.painted)), baselineFirstPaintMs: baseline.map((p) => Math.round(p.painted)), filterUpdatedMs: Math.round(Math.max(...answers.map((a) => a.updated))),
      filterFrameMs: Math.round(Math.max(...answers.map((a) => a.framed))), slowInputEvents: durations.length,
    }));
  } finally {
    clearInterval(churn);
    await browser.close();
    await server.close();
  }
}

await main();
