import type { MessageOf } from '../../shared/protocol/index.js';

/** One shortcut tunnel as `link-report` carries it. */
export type LinkReportEntry = MessageOf<'link-report'>['links'][number];

/** How often counters are looked at while shortcuts exist. */
export const LINK_REPORT_INTERVAL_MS = 1_000;

/**
 * Tells the hub about this member's shortcut tunnels (paths of kind `shortcut` in its config):
 * every one's liveness and counters once the config is acknowledged, a tunnel's at once when its
 * liveness changes, and, once a second, those whose counters moved (the hub's measure of a
 * shortcut's rate and of when it goes idle). An idle, steady shortcut costs no message.
 */
export class ShortcutReporter {
  private tunnels: readonly string[] = [];
  private readonly sent = new Map<string, LinkReportEntry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** A tunnel's liveness and counters now, or undefined when it does not run. */
    private readonly read: (tunnel: string) => LinkReportEntry | undefined,
    /** Sends one `link-report` (to the session open now, if any). */
    private readonly send: (links: LinkReportEntry[]) => void,
    private readonly intervalMs = LINK_REPORT_INTERVAL_MS,
  ) {}

  /** The config now running names these shortcut tunnels: all are reported now, then followed. */
  follow(tunnels: readonly string[]): void {
    this.tunnels = [...tunnels];
    for (const name of this.sent.keys()) if (!tunnels.includes(name)) this.sent.delete(name);
    this.report(this.tunnels, true);
    if (this.tunnels.length > 0 && this.timer === undefined) {
      this.timer = setInterval(() => this.report(this.tunnels, false), this.intervalMs);
      this.timer.unref();
    } else if (this.tunnels.length === 0) {
      this.stopTimer();
    }
  }

  /** A tunnel's liveness changed: reported at once if it is a shortcut. */
  changed(tunnel: string): void {
    if (this.tunnels.includes(tunnel)) this.report([tunnel], true);
  }

  /** Stops reporting (the runner stops). */
  stop(): void {
    this.tunnels = [];
    this.stopTimer();
  }

  /** Sends the entries of `tunnels` that changed since last sent (all of them with `all`). */
  private report(tunnels: readonly string[], all: boolean): void {
    const entries: LinkReportEntry[] = [];
    for (const tunnel of tunnels) {
      const entry = this.read(tunnel);
      if (entry === undefined) continue;
      const last = this.sent.get(tunnel);
      if (!all && last !== undefined && last.state === entry.state && last.rxBytes === entry.rxBytes && last.txBytes === entry.txBytes) continue;
      entries.push(entry);
      this.sent.set(tunnel, entry);
    }
    if (entries.length > 0) this.send(entries);
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
