/** The height of a table row (px): the page's style and its virtual window both use it. */
export const TABLE_ROW_HEIGHT = 32;

/** The status page's style sheet, inlined into the page and allowed by its hash. */
export const STATUS_PAGE_STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b6570; --bg: #f6f7f9; --card: #fff; --line: #dde1e6; --alt: #f0f2f5;
  --up: #1a7f37; --down: #8c959f; --warn: #9a6700; --accent: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9aa5b1; --bg: #0d1117; --card: #161b22; --line: #30363d; --alt: #1c222b; --up: #3fb950; --down: #6e7681; --warn: #d29922; --accent: #58a6ff; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
body.table-mode { height: 100vh; height: 100dvh; display: flex; flex-direction: column; overflow: hidden; }
[hidden] { display: none !important; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
button, input, select { font: inherit; color: inherit; }
button, select, input { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 2px 8px; }
button { cursor: pointer; }
header { padding: 12px 16px; border-bottom: 1px solid var(--line); background: var(--card); display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; }
h1 { font-size: 18px; margin: 0; }
header p { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
#live { margin-left: auto; font-size: 13px; padding: 1px 8px; border-radius: 999px; border: 1px solid var(--line); color: var(--muted); }
#live.on { color: var(--up); border-color: var(--up); }
#mode { font-size: 13px; }
#peers { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 19rem), 1fr)); gap: 12px; padding: 12px; }
article { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--down); border-radius: 8px; padding: 10px 12px; min-width: 0; }
article[data-state="up"] { border-left-color: var(--up); }
article h2 { font-size: 16px; margin: 0 0 6px; display: flex; gap: 8px; align-items: baseline; overflow-wrap: anywhere; }
.state { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--down); }
article[data-state="up"] .state, .row[data-state="up"] .c-state { color: var(--up); }
dl { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; font-size: 14px; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.nat { color: var(--warn); }
#empty { color: var(--muted); padding: 16px; }
#table { flex: 1; min-height: 0; display: flex; flex-direction: column; }
.controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 8px 12px; }
#search { flex: 1 1 14rem; min-width: 0; padding: 4px 8px; }
#shown { color: var(--muted); font-size: 14px; font-variant-numeric: tabular-nums; }
#detail { padding: 0 12px 8px; max-height: 45vh; overflow: auto; }
#detail article { position: relative; }
#detail-close { position: absolute; top: 8px; right: 8px; font-size: 13px; }
#scroller { flex: 1; min-height: 8rem; overflow: auto; border-top: 1px solid var(--line); background: var(--card); }
.head, #spacer { min-width: 66rem; }
.head { position: sticky; top: 0; z-index: 1; background: var(--card); border-bottom: 1px solid var(--line); font-weight: 600; font-size: 13px; }
#spacer { position: relative; }
#rows { position: absolute; top: 0; left: 0; right: 0; }
.row { display: flex; align-items: center; height: ${TABLE_ROW_HEIGHT}px; font-size: 14px; font-variant-numeric: tabular-nums; }
.row.odd { background: var(--alt); }
.row > span { padding: 0 8px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.head button { border: 0; background: none; padding: 0; font-weight: 600; text-align: left; width: 100%; }
.head [aria-sort="ascending"] button::after { content: " ▲"; }
.head [aria-sort="descending"] button::after { content: " ▼"; }
.row .open { border: 0; background: none; padding: 0; color: var(--accent); max-width: 100%; overflow: hidden; text-overflow: ellipsis; text-align: left; }
.c-name { flex: 1 0 11rem; } .c-state { flex: 0 0 7.5rem; } .c-hub { flex: 0 0 6rem; } .c-encap { flex: 0 0 4.5rem; }
.c-endpoint { flex: 1 0 10rem; } .c-inner { flex: 0 0 7.5rem; } .c-rx, .c-tx { flex: 0 0 7.5rem; text-align: right; }
.c-total { flex: 0 0 11.5rem; text-align: right; } .c-since { flex: 0 0 5.5rem; text-align: right; }
.no-hub .c-hub { display: none; }
.row[data-state="down"] .c-state { color: var(--down); }
#nomatch { padding: 12px; color: var(--muted); }
`;
