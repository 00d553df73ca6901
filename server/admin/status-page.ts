import { createHash } from 'node:crypto';
import { cardTraffic } from './status-card-traffic.js';
import { applyStatusDelta } from './status-delta.js';
import { formatTraffic } from './status-traffic-format.js';
import { trafficRates } from './status-traffic-rates.js';

// The live status page, whole: no file, font, script or style comes from anywhere else (a hub
// may have no way out), and the Content-Security-Policy below forbids it. The script takes one
// `/events` stream (server-sent events) and updates each peer's card in place. Its rates come from
// trafficRates, its Traffic and Totals rows from cardTraffic and formatTraffic, whose sources are
// inlined here.

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b6570; --bg: #f6f7f9; --card: #fff; --line: #dde1e6;
  --up: #1a7f37; --down: #8c959f; --warn: #9a6700; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9aa5b1; --bg: #0d1117; --card: #161b22; --line: #30363d; --up: #3fb950; --down: #6e7681; --warn: #d29922; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 12px 16px; border-bottom: 1px solid var(--line); background: var(--card); display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; }
h1 { font-size: 18px; margin: 0; }
header p { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
#live { margin-left: auto; font-size: 13px; padding: 1px 8px; border-radius: 999px; border: 1px solid var(--line); color: var(--muted); }
#live.on { color: var(--up); border-color: var(--up); }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 19rem), 1fr)); gap: 12px; padding: 12px; }
article { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--down); border-radius: 8px; padding: 10px 12px; min-width: 0; }
article[data-state="up"] { border-left-color: var(--up); }
article h2 { font-size: 16px; margin: 0 0 6px; display: flex; gap: 8px; align-items: baseline; overflow-wrap: anywhere; }
.state { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--down); }
article[data-state="up"] .state { color: var(--up); }
dl { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; font-size: 14px; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.nat { color: var(--warn); }
#empty { color: var(--muted); padding: 16px; }
`;

const SCRIPT = `
(() => {
  'use strict';
  const main = document.getElementById('peers');
  const live = document.getElementById('live');
  const hubLine = document.getElementById('hub');
  const summary = document.getElementById('summary');
  const cards = new Map();
  const last = new Map();
  const FIELDS = [['endpoint', 'Endpoint'], ['encap', 'Encapsulation'], ['subnet', '/30'], ['routes', 'Routes'], ['seen', 'Last seen'], ['traffic', 'Traffic'], ['totals', 'Totals'], ['software', 'Software']];
  const trafficRates = ${trafficRates.toString()};
  const formatTraffic = ${formatTraffic.toString()};
  const cardTraffic = ${cardTraffic.toString()};
  const applyStatusDelta = ${applyStatusDelta.toString()};
  const ago = (iso) => {
    if (!iso) return 'never';
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 90) return seconds + ' s ago';
    if (seconds < 5400) return Math.round(seconds / 60) + ' min ago';
    if (seconds < 172800) return Math.round(seconds / 3600) + ' h ago';
    return Math.round(seconds / 86400) + ' d ago';
  };

  const cardFor = (name) => {
    let card = cards.get(name);
    if (card) return card;
    const article = document.createElement('article');
    article.dataset.peer = name;
    const title = document.createElement('h2');
    const label = document.createElement('span');
    label.textContent = name;
    const state = document.createElement('span');
    state.className = 'state';
    title.append(label, state);
    const list = document.createElement('dl');
    const values = {};
    for (const [key, text] of FIELDS) {
      const term = document.createElement('dt');
      term.textContent = text;
      const value = document.createElement('dd');
      value.dataset.field = key;
      list.append(term, value);
      values[key] = value;
    }
    article.append(title, list);
    card = { article, state, values, lastSeen: null };
    cards.set(name, card);
    return card;
  };

  const render = (view) => {
    hubLine.textContent = 'hub ' + view.hub.endpoint + (view.hub.wsPort ? ' · ws ' + view.hub.wsPort : '') + (view.hub.sshPort ? ' · ssh ' + view.hub.sshPort : '') + ' · tunnel-hub ' + view.hub.version;
    const up = view.peers.filter((peer) => peer.state === 'up').length;
    summary.textContent = up + ' of ' + view.peers.length + ' peers up';
    const order = [];
    for (const peer of view.peers) {
      const card = cardFor(peer.name);
      const v = card.values;
      card.article.dataset.state = peer.state;
      card.state.textContent = peer.state + (peer.transport && peer.state === 'up' ? ' · ' + peer.transport : '');
      v.endpoint.textContent = (peer.seen || 'unknown') + (peer.nat ? ' (reports ' + peer.reported + ', behind NAT)' : '');
      v.endpoint.className = peer.nat ? 'nat' : '';
      v.encap.textContent = peer.encap + (peer.encapReason ? ' — ' + peer.encapReason : '');
      v.subnet.textContent = peer.prefix + ' (member ' + peer.inner + ')';
      v.routes.textContent = peer.routes.length ? peer.routes.join(', ') : '—';
      card.lastSeen = peer.state === 'up' ? null : peer.lastSeen;
      v.seen.textContent = peer.state === 'up' ? 'now' : ago(peer.lastSeen);
      const rates = trafficRates(peer, last.get(peer.name), view.at);
      const shown = cardTraffic(peer, rates, formatTraffic);
      v.traffic.textContent = shown.traffic;
      v.totals.textContent = shown.totals;
      if (rates.mark) last.set(peer.name, rates.mark); else last.delete(peer.name);
      v.software.textContent = peer.software || '—';
      order.push(card.article);
    }
    for (const [name, card] of cards) {
      if (!view.peers.some((peer) => peer.name === name)) { cards.delete(name); last.delete(name); card.article.remove(); }
    }
    if (order.length === 0) {
      const empty = document.createElement('p');
      empty.id = 'empty';
      empty.textContent = 'No peers yet: tunnel-hub invite create, then tunnel-client join on the member.';
      main.replaceChildren(empty);
    } else {
      main.replaceChildren(...order);
    }
  };

  // A snapshot, then deltas naming the frame they follow: one that does not follow the frame this
  // page has means a frame was missed, so the page starts over with a fresh stream (a snapshot).
  let view = null;
  let lastId = null;
  let source = null;
  const connect = () => {
    source?.close();
    source = new EventSource('events');
    source.onopen = () => { live.textContent = 'live'; live.className = 'on'; };
    source.onerror = () => { live.textContent = 'reconnecting…'; live.className = ''; };
    source.addEventListener('snapshot', (event) => {
      view = JSON.parse(event.data);
      lastId = event.lastEventId;
      render(view);
    });
    source.addEventListener('delta', (event) => {
      const delta = JSON.parse(event.data);
      if (view === null || delta.base !== lastId) { connect(); return; }
      view = applyStatusDelta(view, delta);
      lastId = event.lastEventId;
      render(view);
    });
  };
  connect();
  setInterval(() => {
    for (const card of cards.values()) if (card.lastSeen) card.values.seen.textContent = ago(card.lastSeen);
  }, 1000);
})();
`;

/** The page, served at `/` of the admin listener. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>tunnel-hub status</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>tunnel-hub</h1><p id="hub"></p><p id="summary"></p><span id="live">connecting…</span></header>
<main id="peers"></main>
<script>${SCRIPT}</script>
</body>
</html>
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Only the page's own inline style and script (by hash) and its own event stream: the browser
 * refuses anything else, so nothing can be loaded from outside even by mistake.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src ${hash(STYLE)}`,
  `script-src ${hash(SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
