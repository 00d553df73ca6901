import type { MessageOf } from '../../shared/protocol/index.js';

/** One shortcut tunnel as `link-report` carries it. */
export type LinkReportEntry = MessageOf<'link-report'>['links'][number];

/** How often counters are looked at while shortcuts exist. */
export const LINK_REPORT_INTERVAL_MS = 1_000;
/** How often a new shortcut tunnel is probed while it is down, and for how long (the hub's verify window). */
export const SHORTCUT_PROBE_EVERY_MS = 200;
export const SHORTCUT_PROBE_FOR_MS = 5_000;

/** Probes a running tunnel's path (`ClientDatapath.probe`): true when answered within `timeoutMs`. */
export type ProbeTunnel = (tunnel: string, timeoutMs: number) => Promise<boolean>;

/**
 * Tells the hub about this member's shortcut tunnels (paths of kind `shortcut` in its config):
 * every one's liveness and counters once the config is acknowledged, a tunnel's at once when its
 * liveness changes, and, once a second, those whose counters moved (the hub's measure of a
 * shortcut's rate and of when it goes idle). An idle, steady shortcut costs no message. A new
 * shortcut tunnel that is down is probed every SHORTCUT_PROBE_EVERY_MS until it is up, so the
 * switch waits for the other end's tunnel, not for the next keepalive (10 s by default).
 */
export class ShortcutReporter {
  private tunnels: readonly string[] = [];
  private readonly sent = new Map<string, LinkReportEntry>();
  private timer: NodeJS.Timeout | undefined;
  /** The quick probes of new shortcut tunnels still down, by tunnel. */
  private readonly probing = new Map<string, NodeJS.Timeout>();

  constructor(
    /** A tunnel's liveness and counters now, or undefined when it does not run. */
    private readonly read: (tunnel: string) => LinkReportEntry | undefined,
    /** Sends one `link-report` (to the session open now, if any). */
    private readonly send: (links: LinkReportEntry[]) => void,
    /** Probes a new shortcut tunnel until it is up; none without it. */
    private readonly probe?: ProbeTunnel,
    private readonly intervalMs = LINK_REPORT_INTERVAL_MS,
  ) {}

  /** The config now running names these shortcut tunnels: all are reported now, then followed. */
  follow(tunnels: readonly string[]): void {
    const added = tunnels.filter((name) => !this.tunnels.includes(name));
    this.tunnels = [...tunnels];
    for (const [name, timer] of this.probing) {
      if (!tunnels.includes(name)) this.stopProbing(name, timer);
    }
    for (const name of added) this.probeUntilUp(name);
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
    for (const [name, timer] of this.probing) this.stopProbing(name, timer);
  }

  /** Probes a new shortcut tunnel while it is down, for at most SHORTCUT_PROBE_FOR_MS. */
  private probeUntilUp(tunnel: string): void {
    if (this.probe === undefined || this.read(tunnel)?.state !== 'down') return;
    const probe = this.probe;
    const until = Date.now() + SHORTCUT_PROBE_FOR_MS;
    const step = (): void => {
      if (!this.tunnels.includes(tunnel) || this.read(tunnel)?.state !== 'down' || Date.now() >= until) {
        this.stopProbing(tunnel, timer);
        return;
      }
      // An unanswered probe is no verdict: the hub's verify window decides.
      probe(tunnel, SHORTCUT_PROBE_EVERY_MS).catch(() => false);
    };
    const timer = setInterval(step, SHORTCUT_PROBE_EVERY_MS);
    timer.unref();
    this.probing.set(tunnel, timer);
    step();
  }

  private stopProbing(tunnel: string, timer: NodeJS.Timeout): void {
    clearInterval(timer);
    if (this.probing.get(tunnel) === timer) this.probing.delete(tunnel);
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
