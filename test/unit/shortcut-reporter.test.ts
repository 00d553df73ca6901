import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SHORTCUT_PROBE_EVERY_MS, SHORTCUT_PROBE_FOR_MS, ShortcutReporter, type LinkReportEntry } from '../../client/session/shortcut-reporter.js';

/** A member's shortcut tunnels as the reporter reads them, with the probes it sent and the reports. */
function harness(states: Record<string, 'up' | 'down'>) {
  const probes: string[] = [];
  const reports: LinkReportEntry[][] = [];
  const reporter = new ShortcutReporter(
    (tunnel) => (tunnel in states ? { tunnel, state: states[tunnel]!, rxBytes: 0, txBytes: 0 } : undefined),
    (links) => reports.push(links),
    (tunnel) => {
      probes.push(tunnel);
      return Promise.resolve(false);
    },
  );
  return { reporter, probes, reports };
}

describe('ShortcutReporter: quick probes of a new shortcut tunnel', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('probes a new tunnel that is down at once and every SHORTCUT_PROBE_EVERY_MS, stops once it is up and reports it up at once', () => {
    const states: Record<string, 'up' | 'down'> = { 'tnl-c2': 'down' };
    const { reporter, probes, reports } = harness(states);
    reporter.follow(['tnl-c2']);
    expect(probes).toEqual(['tnl-c2']);
    expect(reports).toEqual([[{ tunnel: 'tnl-c2', state: 'down', rxBytes: 0, txBytes: 0 }]]);
    vi.advanceTimersByTime(SHORTCUT_PROBE_EVERY_MS * 3);
    expect(probes).toHaveLength(4);
    states['tnl-c2'] = 'up';
    reporter.changed('tnl-c2');
    expect(reports.at(-1)).toEqual([{ tunnel: 'tnl-c2', state: 'up', rxBytes: 0, txBytes: 0 }]);
    vi.advanceTimersByTime(SHORTCUT_PROBE_EVERY_MS * 5);
    expect(probes).toHaveLength(4);
    reporter.stop();
  });

  it('gives up after SHORTCUT_PROBE_FOR_MS, leaving the verdict to the hub', () => {
    const { reporter, probes } = harness({ 'tnl-c2': 'down' });
    reporter.follow(['tnl-c2']);
    vi.advanceTimersByTime(SHORTCUT_PROBE_FOR_MS + SHORTCUT_PROBE_EVERY_MS * 10);
    expect(probes).toHaveLength(SHORTCUT_PROBE_FOR_MS / SHORTCUT_PROBE_EVERY_MS);
    reporter.stop();
  });

  it('does not probe a tunnel already up, nor one followed before, and stops probing a tunnel the config dropped', () => {
    const { reporter, probes } = harness({ 'tnl-c2': 'up', 'tnl-c3': 'down' });
    reporter.follow(['tnl-c2']);
    expect(probes).toEqual([]);
    reporter.follow(['tnl-c2', 'tnl-c3']);
    expect(probes).toEqual(['tnl-c3']);
    reporter.follow(['tnl-c2', 'tnl-c3']);
    expect(probes).toEqual(['tnl-c3']);
    reporter.follow(['tnl-c2']);
    vi.advanceTimersByTime(SHORTCUT_PROBE_EVERY_MS * 5);
    expect(probes).toEqual(['tnl-c3']);
    reporter.stop();
  });
});
