import { cardTraffic } from './status-card-traffic.js';
import { applyStatusDelta } from './status-delta.js';
import { TABLE_ROW_HEIGHT } from './status-page-style.js';
import { unpackStatusView } from './status-snapshot.js';
import { sortTableRows, tableFilter } from './status-table-query.js';
import { formatTraffic } from './status-traffic-format.js';
import { trafficRates } from './status-traffic-rates.js';
import { virtualWindow } from './status-virtual-window.js';

/** Up to this many peers the page opens on cards; beyond, on the table (a button switches). */
export const CARD_LIMIT = 50;

/**
 * The status page's script, inlined into the page and allowed by its hash. It keeps the view from
 * `/events` (a snapshot, unpacked with unpackStatusView, then deltas applied with
 * applyStatusDelta), turns it into rows with rates (trafficRates), and draws either one card per
 * peer or a table that holds only the rows in sight (virtualWindow), searched, filtered and sorted
 * by tableFilter and sortTableRows. Those functions are inlined from their modules, so the unit
 * tests run what the browser runs. It writes only textContent and never an HTML string.
 */
export const STATUS_PAGE_SCRIPT = `
(() => {
  'use strict';
  const ROW_HEIGHT = ${TABLE_ROW_HEIGHT};
  const CARD_LIMIT = ${CARD_LIMIT};
  const OVERSCAN = 8;
  const trafficRates = ${trafficRates.toString()};
  const formatTraffic = ${formatTraffic.toString()};
  const cardTraffic = ${cardTraffic.toString()};
  const applyStatusDelta = ${applyStatusDelta.toString()};
  const unpackStatusView = ${unpackStatusView.toString()};
  const tableFilter = ${tableFilter.toString()};
  const sortTableRows = ${sortTableRows.toString()};
  const virtualWindow = ${virtualWindow.toString()};

  const byId = (id) => document.getElementById(id);
  const live = byId('live');
  const hubLine = byId('hub');
  const summary = byId('summary');
  const modeButton = byId('mode');
  const cardsMain = byId('peers');
  const tableSection = byId('table');
  const scroller = byId('scroller');
  const head = byId('head');
  const spacer = byId('spacer');
  const rowsBox = byId('rows');
  const noMatch = byId('nomatch');
  const shown = byId('shown');
  const search = byId('search');
  const filters = { state: byId('filter-state'), encap: byId('filter-encap'), hub: byId('filter-hub') };
  const detail = byId('detail');
  const numbers = new Intl.NumberFormat('en');
  const number = (n) => numbers.format(n);

  const age = (iso) => {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 90) return seconds + ' s';
    if (seconds < 5400) return Math.round(seconds / 60) + ' min';
    if (seconds < 172800) return Math.round(seconds / 3600) + ' h';
    return Math.round(seconds / 86400) + ' d';
  };
  const stateText = (peer) => peer.state + (peer.router ? ' · router' : peer.transport && peer.state === 'up' ? ' · ' + peer.transport : '');
  const setText = (node, text) => { if (node.textContent !== text) node.textContent = text; };

  // The model: the view, each peer's row with its rates, the table's order and what passes its filters.
  let view = null;
  let rows = [];
  let sorted = [];
  let visible = [];
  const marks = new Map();
  const query = { search: '', state: '', encap: '', hub: '', sort: 'state', descending: false };
  let chosenMode = null;
  let mode = null;
  let detailName = null;

  // Cards: one per peer, kept by name and updated in place.
  const FIELDS = [['endpoint', 'Endpoint'], ['encap', 'Encapsulation'], ['subnet', '/30'], ['routes', 'Routes'], ['seen', 'Last seen'], ['traffic', 'Traffic'], ['totals', 'Totals'], ['software', 'Software'], ['hub', 'Hub'], ['direct', 'Direct']];
  const cards = new Map();
  const makeCard = (name) => {
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
    const terms = {};
    for (const [key, text] of FIELDS) {
      const term = document.createElement('dt');
      term.textContent = text;
      const value = document.createElement('dd');
      value.dataset.field = key;
      list.append(term, value);
      values[key] = value;
      terms[key] = term;
    }
    article.append(title, list);
    return { article, state, values, terms };
  };
  const fillCard = (card, row) => {
    const peer = row.peer;
    const v = card.values;
    card.article.dataset.state = peer.state;
    setText(card.state, stateText(peer));
    setText(v.endpoint, (peer.seen || 'unknown') + (peer.nat ? ' (reports ' + peer.reported + ', behind NAT)' : ''));
    v.endpoint.className = peer.nat ? 'nat' : '';
    setText(v.encap, peer.encap + (peer.encryption ? ' + ' + peer.encryption : '') + (peer.encapReason ? ' — ' + peer.encapReason : ''));
    setText(v.subnet, peer.prefix + ' (member ' + peer.inner + ')');
    setText(v.routes, peer.routes.length ? peer.routes.join(', ') : '—');
    setText(v.seen, peer.state === 'up' ? 'now' : peer.lastSeen ? age(peer.lastSeen) + ' ago' : 'never');
    const shownTraffic = cardTraffic(peer, row, formatTraffic);
    setText(v.traffic, shownTraffic.traffic);
    setText(v.totals, shownTraffic.totals);
    setText(v.software, peer.software || '—');
    setText(v.hub, peer.hub || '—');
    card.terms.hub.hidden = v.hub.hidden = peer.hub === null;
    // A pair whose traffic crosses a verified shortcut, not the hub.
    setText(v.direct, peer.direct.length ? peer.direct.join(', ') + ' (shortcut)' : '—');
    card.terms.direct.hidden = v.direct.hidden = peer.direct.length === 0;
  };
  const renderCards = () => {
    const present = new Set();
    const order = [];
    for (const row of rows) {
      let card = cards.get(row.peer.name);
      if (!card) { card = makeCard(row.peer.name); cards.set(row.peer.name, card); }
      fillCard(card, row);
      present.add(row.peer.name);
      order.push(card.article);
    }
    for (const name of [...cards.keys()]) if (!present.has(name)) cards.delete(name);
    if (order.length === 0) {
      const empty = document.createElement('p');
      empty.id = 'empty';
      empty.textContent = 'No peers yet: tunnel-hub invite create, then tunnel-client join on the member.';
      cardsMain.replaceChildren(empty);
    } else {
      cardsMain.replaceChildren(...order);
    }
  };

  // The table: a sticky head, a spacer as high as every row would be, and only the rows in sight.
  const COLUMNS = [['name', 'Name'], ['state', 'State'], ['hub', 'Hub'], ['encap', 'Encap'], ['endpoint', 'Endpoint'], ['inner', 'Address'], ['rx', 'In'], ['tx', 'Out'], ['total', 'Totals in / out'], ['since', 'Since']];
  const DESCENDING_FIRST = new Set(['rx', 'tx', 'total']);
  const cellText = {
    name: (row) => row.peer.name,
    state: (row) => stateText(row.peer),
    hub: (row) => row.peer.hub || '—',
    encap: (row) => row.peer.encap,
    endpoint: (row) => (row.peer.seen || '—') + (row.peer.nat ? ' (NAT)' : ''),
    inner: (row) => row.peer.inner,
    rx: (row) => (row.rx === null ? '—' : formatTraffic(row.rx, 'bit/s')),
    tx: (row) => (row.tx === null ? '—' : formatTraffic(row.tx, 'bit/s')),
    total: (row) => (row.peer.rxBytes === null || row.peer.txBytes === null ? '—' : formatTraffic(row.peer.rxBytes, 'B') + ' / ' + formatTraffic(row.peer.txBytes, 'B')),
    since: (row) => (row.peer.since ? age(row.peer.since) : '—'),
  };
  const headers = {};
  for (const [key, text] of COLUMNS) {
    const cell = document.createElement('span');
    cell.className = 'c-' + key;
    cell.setAttribute('role', 'columnheader');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = text;
    button.dataset.sort = key;
    button.title = 'Sort by ' + text.toLowerCase();
    cell.append(button);
    head.append(cell);
    headers[key] = cell;
  }
  const pool = [];
  const makeRow = () => {
    const row = document.createElement('div');
    row.className = 'row';
    row.setAttribute('role', 'row');
    const cells = {};
    for (const [key] of COLUMNS) {
      const cell = document.createElement('span');
      cell.className = 'c-' + key;
      cell.setAttribute('role', key === 'name' ? 'rowheader' : 'cell');
      row.append(cell);
      cells[key] = cell;
    }
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open';
    cells.name.append(open);
    return { row, cells, open };
  };
  let drawn = { first: 0, end: 0 };
  const renderTable = () => {
    const viewport = scroller.clientHeight - head.offsetHeight;
    const w = virtualWindow(scroller.scrollTop, viewport, ROW_HEIGHT, visible.length, OVERSCAN);
    spacer.style.height = w.height + 'px';
    rowsBox.style.transform = 'translateY(' + w.offset + 'px)';
    const count = w.end - w.first;
    while (pool.length < count) pool.push(makeRow());
    for (let i = 0; i < count; i += 1) {
      const index = w.first + i;
      const row = visible[index];
      const item = pool[i];
      item.row.dataset.peer = row.peer.name;
      item.row.dataset.state = row.peer.state;
      item.row.dataset.index = String(index);
      item.row.setAttribute('aria-rowindex', String(index + 2));
      item.row.classList.toggle('odd', index % 2 === 1);
      for (const [key] of COLUMNS) if (key !== 'name') setText(item.cells[key], cellText[key](row));
      setText(item.open, row.peer.name);
    }
    if (rowsBox.childElementCount !== count) rowsBox.replaceChildren(...pool.slice(0, count).map((item) => item.row));
    drawn = w;
    scroller.setAttribute('aria-rowcount', String(visible.length + 1));
    noMatch.hidden = visible.length > 0 || rows.length === 0;
    setText(shown, number(visible.length) + ' of ' + number(rows.length) + ' peers');
  };
  const resort = () => { sorted = sortTableRows(rows, query.sort, query.descending); };
  const refilter = () => { visible = sorted.filter(tableFilter(query)); };
  const showSort = () => {
    for (const [key, cell] of Object.entries(headers)) {
      cell.setAttribute('aria-sort', key === query.sort ? (query.descending ? 'descending' : 'ascending') : 'none');
    }
  };
  const setOptions = (select, values, any) => {
    const keep = select.value;
    const all = [...new Set(keep ? [...values, keep] : values)].sort();
    const key = all.join('\\n');
    if (select.dataset.options === key) return;
    select.dataset.options = key;
    const first = document.createElement('option');
    first.value = '';
    first.textContent = any;
    select.replaceChildren(first, ...all.map((value) => {
      const option = document.createElement('option');
      option.value = option.textContent = value;
      return option;
    }));
    select.value = keep;
  };

  // One peer's whole card above the table, opened from its row.
  let detailCard = null;
  const renderDetail = () => {
    const row = detailName === null ? undefined : rows.find((r) => r.peer.name === detailName);
    if (mode !== 'table' || !row) { detail.hidden = true; detail.replaceChildren(); detailCard = null; return; }
    if (!detailCard || detailCard.article.dataset.peer !== detailName) {
      detailCard = makeCard(detailName);
      const close = document.createElement('button');
      close.type = 'button';
      close.id = 'detail-close';
      close.textContent = 'Close';
      close.addEventListener('click', () => { detailName = null; renderDetail(); });
      detailCard.article.append(close);
      detail.replaceChildren(detailCard.article);
    }
    fillCard(detailCard, row);
    detail.hidden = false;
  };

  const render = () => {
    if (!view) return;
    hubLine.textContent = 'hub ' + view.hub.endpoint + (view.hub.wsPort ? ' · ws ' + view.hub.wsPort : '') + (view.hub.sshPort ? ' · ssh ' + view.hub.sshPort : '') + ' · tunnel-hub ' + view.hub.version;
    const up = rows.filter((row) => row.peer.state === 'up').length;
    summary.textContent = number(up) + ' of ' + number(rows.length) + ' peers up';
    mode = chosenMode || (rows.length <= CARD_LIMIT ? 'cards' : 'table');
    document.body.classList.toggle('table-mode', mode === 'table');
    cardsMain.hidden = mode !== 'cards';
    tableSection.hidden = mode !== 'table';
    modeButton.hidden = rows.length === 0;
    modeButton.textContent = mode === 'cards' ? 'Table' : 'Cards';
    modeButton.setAttribute('aria-label', mode === 'cards' ? 'Show the peers as a table' : 'Show the peers as cards');
    if (mode === 'cards') {
      renderCards();
    } else {
      cardsMain.replaceChildren();
      cards.clear();
      const hubs = rows.map((row) => row.peer.hub).filter((hub) => hub !== null);
      setOptions(filters.encap, rows.map((row) => row.peer.encap), 'any encapsulation');
      setOptions(filters.hub, hubs, 'any hub');
      filters.hub.hidden = hubs.length === 0 && query.hub === '';
      tableSection.classList.toggle('no-hub', filters.hub.hidden);
      resort();
      refilter();
      renderTable();
    }
    renderDetail();
  };

  // Each sample: rates from the previous one, then the rows everything is drawn from.
  const receive = () => {
    const present = new Set();
    rows = view.peers.map((peer) => {
      const rates = trafficRates(peer, marks.get(peer.name), view.at);
      if (rates.mark) marks.set(peer.name, rates.mark); else marks.delete(peer.name);
      present.add(peer.name);
      return { peer, rx: rates.rx, tx: rates.tx };
    });
    for (const name of [...marks.keys()]) if (!present.has(name)) marks.delete(name);
    render();
  };

  // Input: the search box and filters answer at once; the head's buttons sort; rows open a card.
  const onQuery = () => {
    query.search = search.value;
    query.state = filters.state.value;
    query.encap = filters.encap.value;
    query.hub = filters.hub.value;
    refilter();
    scroller.scrollTop = 0;
    renderTable();
  };
  search.addEventListener('input', onQuery);
  for (const select of Object.values(filters)) select.addEventListener('change', onQuery);
  head.addEventListener('click', (event) => {
    const key = event.target.closest('button')?.dataset.sort;
    if (!key) return;
    if (query.sort === key) query.descending = !query.descending;
    else { query.sort = key; query.descending = DESCENDING_FIRST.has(key); }
    showSort();
    resort();
    refilter();
    renderTable();
  });
  rowsBox.addEventListener('click', (event) => {
    const name = event.target.closest('.open')?.closest('.row')?.dataset.peer;
    if (name) { detailName = name; renderDetail(); }
  });
  // Arrow keys, Page Up/Down, Home and End move between rows' buttons, scrolling as they go.
  rowsBox.addEventListener('keydown', (event) => {
    const at = Number(event.target.closest('.row')?.dataset.index);
    if (!Number.isInteger(at) || visible.length === 0) return;
    const page = Math.max(1, Math.floor((scroller.clientHeight - head.offsetHeight) / ROW_HEIGHT) - 1);
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, PageDown: at + page, PageUp: at - page, Home: 0, End: visible.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const index = Math.min(visible.length - 1, Math.max(0, to));
    const viewport = scroller.clientHeight - head.offsetHeight;
    if (index * ROW_HEIGHT < scroller.scrollTop) scroller.scrollTop = index * ROW_HEIGHT;
    else if ((index + 1) * ROW_HEIGHT > scroller.scrollTop + viewport) scroller.scrollTop = (index + 1) * ROW_HEIGHT - viewport;
    renderTable();
    pool[index - drawn.first]?.open.focus();
  });
  let scrolling = false;
  const redraw = () => {
    if (scrolling) return;
    scrolling = true;
    requestAnimationFrame(() => { scrolling = false; if (mode === 'table') renderTable(); });
  };
  scroller.addEventListener('scroll', redraw);
  window.addEventListener('resize', redraw);
  document.addEventListener('keydown', (event) => {
    const typing = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement?.tagName);
    if (event.key === '/' && mode === 'table' && !typing) { event.preventDefault(); search.focus(); }
  });
  modeButton.addEventListener('click', () => { chosenMode = mode === 'cards' ? 'table' : 'cards'; render(); });
  showSort();

  // The stream: a snapshot, then deltas naming the frame they follow. One that does not follow the
  // frame this page has means a frame was missed: the page starts over with a fresh stream.
  let lastId = null;
  let source = null;
  const connect = () => {
    source?.close();
    source = new EventSource('events');
    source.onopen = () => { live.textContent = 'live'; live.className = 'on'; };
    source.onerror = () => { live.textContent = 'reconnecting…'; live.className = ''; };
    source.addEventListener('snapshot', (event) => {
      view = unpackStatusView(JSON.parse(event.data));
      lastId = event.lastEventId;
      receive();
    });
    source.addEventListener('delta', (event) => {
      const delta = JSON.parse(event.data);
      if (view === null || delta.base !== lastId) { connect(); return; }
      view = applyStatusDelta(view, delta);
      lastId = event.lastEventId;
      receive();
    });
  };
  connect();
})();
`;
