import { createHash } from 'node:crypto';
import { STATUS_PAGE_SCRIPT } from './status-page-script.js';
import { STATUS_PAGE_STYLE } from './status-page-style.js';

// The live status page, whole: no file, font, script or style comes from anywhere else (a hub
// may have no way out), and the Content-Security-Policy below forbids it. Its style is
// status-page-style.ts, its script status-page-script.ts; both are inlined here.

/** The page, served at `/` of the admin listener. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>tunnel-hub status</title>
<style>${STATUS_PAGE_STYLE}</style>
</head>
<body>
<header><h1>tunnel-hub</h1><p id="hub"></p><p id="summary"></p><button id="mode" type="button" hidden></button><span id="live">connecting…</span></header>
<main id="peers"></main>
<section id="table" aria-label="Peers" hidden>
<div class="controls" role="search">
<input id="search" type="search" placeholder="Search name, address, endpoint ( / )" aria-label="Search by name, inner address or endpoint" autocomplete="off" spellcheck="false">
<select id="filter-state" aria-label="Filter by state"><option value="">any state</option><option value="up">up</option><option value="down">down</option></select>
<select id="filter-encap" aria-label="Filter by encapsulation"><option value="">any encapsulation</option></select>
<select id="filter-hub" aria-label="Filter by serving hub" hidden><option value="">any hub</option></select>
<span id="shown" role="status"></span>
</div>
<section id="detail" aria-label="The peer opened from the table" hidden></section>
<div id="scroller" role="table" aria-label="Peers" tabindex="0">
<div id="head" class="row head" role="row"></div>
<div id="spacer" role="rowgroup"><div id="rows"></div></div>
<p id="nomatch" hidden>No peer matches the search and filters.</p>
</div>
</section>
<script>${STATUS_PAGE_SCRIPT}</script>
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
  `style-src ${hash(STATUS_PAGE_STYLE)}`,
  `script-src ${hash(STATUS_PAGE_SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
