/**
 * Which hub datapaths a benchmark runs, in this order: the real engine first, then `--datapath
 * none` in the same run for the ratio. `BENCH_DATAPATH=engine` or `none` runs that row alone.
 */
import type { BenchDatapath } from './hub-process.js';

/** The rows to run, from $BENCH_DATAPATH (default both); throws on another value. */
export function benchDatapaths(setting = process.env.BENCH_DATAPATH): BenchDatapath[] {
  if (setting === undefined || setting === '' || setting === 'both') return ['engine', 'none'];
  if (setting === 'engine' || setting === 'none') return [setting];
  throw new Error(`BENCH_DATAPATH "${setting}" must be engine, none or both`);
}
