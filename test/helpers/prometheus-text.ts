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
