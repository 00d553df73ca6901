import { spawnSync } from 'node:child_process';

/** Why `promtool` cannot run here (Debian's prometheus package), or null when it can. */
export function promtoolUnavailableReason(): string | null {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return probe.error ? 'promtool is missing (Debian package prometheus; `npm run setup:test` installs it)' : null;
}

/** `promtool check metrics` over an exposition: exit status and what it said. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/**
 * The value of one series in a Prometheus text exposition, e.g.
 * `metricValue(text, 'tunnel_peers{state="up"}')`; undefined when the series is absent.
 */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1).split(' ')[0]);
  }
  return undefined;
}

/** One metric family of an exposition: its TYPE and the label names of each of its samples. */
export interface MetricFamily {
  type: string;
  /** Per sample, its label names sorted (a histogram's `le` left out). */
  labelSets: string[][];
}

/** Every family an exposition declares (`# TYPE`), with the label names its samples carry. */
export function metricFamilies(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  for (const line of text.split('\n')) {
    const declared = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (declared?.[1] && declared[2]) families.set(declared[1], { type: declared[2], labelSets: [] });
  }
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (!sample?.[1]) continue;
    const name = sample[1];
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
    const labels = [...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((match) => match[1] ?? '').filter((label) => label !== 'le');
    family?.labelSets.push(labels.sort());
  }
  return families;
}

/** The per-tunnel counters both the hub and a member export, as an operator expects to find them. */
export const TUNNEL_TRAFFIC_FAMILIES: Readonly<Record<string, 'counter'>> = Object.fromEntries(['receive', 'transmit'].flatMap((direction) => (
  ['bytes', 'packets', 'dropped_packets', 'errors'].map((what) => [`tunnel_peer_${direction}_${what}_total`, 'counter'])
)));

/**
 * What is wrong with an exposition, one line each (none: []): a family of `expected` (name ->
 * type) missing or of another type, a name outside `tunnel_`/`process_`/`nodejs_`, a counter not
 * ending in `_total` or another type that does, and a per-peer (`tunnel_peer_*`) sample labelled
 * other than `peer` and `encap` (and `reason` for `tunnel_peer_esp_drops_total`).
 */
export function metricProblems(text: string, expected: Readonly<Record<string, string>>): string[] {
  const families = metricFamilies(text);
  const problems: string[] = [];
  for (const [name, type] of Object.entries(expected)) {
    if (families.get(name)?.type !== type) problems.push(`${name}: expected a ${type}, found ${families.get(name)?.type ?? 'nothing'}`);
  }
  for (const [name, family] of families) {
    if (!/^(tunnel|process|nodejs)_[a-z0-9_]+$/.test(name)) problems.push(`${name}: not a tunnel_, process_ or nodejs_ name`);
    if ((family.type === 'counter') !== name.endsWith('_total')) problems.push(`${name}: a ${family.type} ${family.type === 'counter' ? 'must' : 'must not'} end in _total`);
    if (!name.startsWith('tunnel_peer_')) continue;
    // ESP's drops per peer are by reason as well.
    const wanted = name === 'tunnel_peer_esp_drops_total' ? 'encap,peer,reason' : 'encap,peer';
    for (const labels of family.labelSets) {
      if (labels.join(',') !== wanted) problems.push(`${name}: labelled ${labels.join(',') || 'nothing'}, not ${wanted.replace(/,/g, ', ')}`);
    }
  }
  return problems;
}
