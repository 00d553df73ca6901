/**
 * `npm run bench:admin-scale -- [--members 1000,10000] [--runs 3] [--compare-cli PATH] [--json]`:
 * a hub of that many peers (half of them connected), `serve --datapath none`; prints the
 * `/metrics` scrape with per-peer series on and off, and `peer list` / `status` with and without
 * filters; with --compare-cli (another build's dist/server/cli.js, such as one from before a
 * change), each command with that build too, right after, against the same hub. With --json, one
 * JSON object on the last line. The functions are in admin-scale.ts.
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { runAdminScale, type AdminScaleFigures, type TimedAnswer } from './admin-scale.js';

const { values } = parseArgs({
  options: { members: { type: 'string', default: '1000,10000' }, runs: { type: 'string', default: '3' }, 'compare-cli': { type: 'string' }, json: { type: 'boolean', default: false } },
});
const sizes = (values.members ?? '').split(',').map(Number);
const runs = Number(values.runs);
if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 60_000) || !Number.isInteger(runs) || runs < 1 || runs > 20) {
  console.error('bench:admin-scale: --members takes sizes from 2 to 60000, comma-separated; --runs 1-20');
  process.exit(2);
}

const kb = (bytes: number): string => (bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);
const line = (label: string, answer: TimedAnswer, unit: string): string =>
  `  ${label.padEnd(28)} ${String(answer.ms).padStart(6)} ms wall  ${answer.cpuMs === null ? '' : `${String(answer.cpuMs).padStart(5)} ms CPU  `}hub ${String(answer.hubCpuMs).padStart(5)} ms CPU  ${kb(answer.bytes).padStart(9)}  ${answer.count} ${unit}`;

const results: AdminScaleFigures[] = [];
console.log(`bench:admin-scale on ${cpus().length} cores, load average ${loadavg().map((n) => n.toFixed(1)).join(' ')} at the start; medians of ${runs} runs (scrapes: ${runs + 2})`);
for (const members of sizes) {
  console.log(`${members} peers, ${Math.floor(members / 2)} of them connected over WebSocket, hub with --datapath none:`);
  const compareCli = values['compare-cli'];
  const figures = await runAdminScale(members, { runs, ...(compareCli ? { compareCli } : {}), log: (text) => console.log(text) });
  results.push(figures);
  console.log(line('/metrics, per-peer on', figures.scrapePerPeer, 'series'));
  console.log(line('/metrics, per-peer off', figures.scrapeTotalsOnly, 'series'));
  for (const [query, answer] of Object.entries(figures.cli)) {
    const unit = query === '--help' ? '(every command loaded)' : query === 'status --help' ? '(the start of status)' : 'peers';
    console.log(line(`tunnel-hub ${query}`, answer, unit));
    const compared = figures.cliCompared?.[query];
    if (compared) console.log(line('  the compared build', compared, unit));
  }
  console.log(`  load average ${figures.loadAverage.toFixed(1)} at the end of this size`);
}
if (values.json) console.log(JSON.stringify({ cores: cpus().length, runs, sizes: results }));
