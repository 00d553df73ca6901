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
