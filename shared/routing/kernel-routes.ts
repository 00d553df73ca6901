import type { KernelChange } from '../system/kernel-change.js';
import type { KernelNetworkConfig } from '../system/kernel-network-config.js';

/** What KernelRoutes needs of the kernel configuration; injected so tests record the changes. */
export type RouteChanges = Pick<KernelNetworkConfig, 'apply'>;

interface InstalledSet {
  metric: number;
  /** The IPv4 routes' source (undefined: the kernel picks one). */
  source?: string | undefined;
  prefixes: Set<string>;
}

/** The key of the unreachable routes' queue (no interface is named so: names are checked). */
const UNREACHABLE = ' unreachable';

/**
 * The routes this process put into the kernel: per interface, the prefixes routed through it at
 * one metric, plus a set of `unreachable` routes. Each change sends only the difference (one
 * batch of changes for what goes, one per family for what comes). A tunnel interface takes its routes with it when
 * it is deleted, so re-created interfaces start empty (`fresh`) and removed ones are forgotten.
 * Changes to one interface (or to the unreachable routes) run one after the other, in the order
 * asked; those of different interfaces overlap, so their kernel changes join one batch.
 */
export class KernelRoutes {
  private readonly devices = new Map<string, InstalledSet>();
  private unreachable: InstalledSet = { metric: 0, prefixes: new Set() };
  /** Per interface (and UNREACHABLE), the end of the changes asked for it so far. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly kernel: RouteChanges) {}

  /**
   * Makes `device` carry exactly `prefixes` (canonical CIDRs) at `metric`. `fresh`: the interface
   * was just created, so it carries nothing yet. On a failure (rejected after trying the rest), what
   * is known to be installed stays recorded and the rest is tried again on the next call. `link`:
   * the interface the routes go through when it is not `device` itself (a device shared by tunnels).
   * `source`: the IPv4 routes' source address (`src`), for a device shared by tunnels, where the
   * kernel would otherwise pick one of another interface.
   */
  setDevice(device: string, prefixes: readonly string[], metric: number, fresh: boolean, link = device, source?: string): Promise<void> {
    return this.queued(device, () => {
      const before = fresh ? undefined : this.devices.get(device);
      return this.reconcile(before, new Set(prefixes), metric, link, (installed) => {
        if (installed.prefixes.size === 0) this.devices.delete(device);
        else this.devices.set(device, installed);
      }, source);
    });
  }

  /** The interface is gone (its routes went with it). */
  forgetDevice(device: string): void {
    this.devices.delete(device);
  }

  /** Makes the `unreachable` routes exactly `prefixes` at `metric` (a router's answer for what it cannot reach now). */
  setUnreachable(prefixes: readonly string[], metric: number): Promise<void> {
    return this.queued(UNREACHABLE, () => this.reconcile(this.unreachable, new Set(prefixes), metric, null, (installed) => {
      this.unreachable = installed;
    }));
  }

  /** The prefixes routed through `device` by this process, sorted. */
  routesOf(device: string): string[] {
    return [...(this.devices.get(device)?.prefixes ?? [])].sort();
  }

  /** Takes out every unreachable route (at shutdown: unlike device routes, they would outlive the process). */
  clearUnreachable(): Promise<void> {
    return this.queued(UNREACHABLE, () => this.reconcile(this.unreachable, new Set(), this.unreachable.metric, null, (installed) => {
      this.unreachable = installed;
    }));
  }

  /** Runs `work` after the changes asked for `key` before it, whatever became of them. */
  private queued(key: string, work: () => Promise<void>): Promise<void> {
    const run = (this.queues.get(key) ?? Promise.resolve()).then(work);
    const settled = run.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return run;
  }

  /** Routes through `link` (null: unreachable routes) from `before` to `wanted` at `metric`, IPv4 ones from `source` when given. */
  private async reconcile(before: InstalledSet | undefined, wanted: Set<string>, metric: number,
    link: string | null, record: (installed: InstalledSet) => void, source?: string): Promise<void> {
    const kept = new Set<string>();
    const removals: KernelChange[] = [];
    for (const prefix of before?.prefixes ?? []) {
      const sameSource = prefix.includes(':') || before!.source === source;
      if (wanted.has(prefix) && before!.metric === metric && sameSource) kept.add(prefix);
      else removals.push({ kind: 'delete-route', route: { prefix, link, metric: before!.metric } });
    }
    // Until the additions succeed only what stayed is known to be installed: a failure is retried
    // next time.
    const installed = new Set(kept);
    record({ metric, source, prefixes: installed });
    // A refused removal is fine: a deleted interface took its routes along.
    if (removals.length > 0) await this.kernel.apply(removals);
    // IPv4 and IPv6 go separately, so a host without IPv6 still gets its IPv4 routes.
    let failure: unknown;
    for (const family of [[...wanted].filter((p) => !p.includes(':')), [...wanted].filter((p) => p.includes(':'))]) {
      const added = family.filter((prefix) => !kept.has(prefix));
      if (added.length === 0) continue;
      try {
        const from = source !== undefined && !added[0]!.includes(':') ? { source } : {};
        const outcomes = await this.kernel.apply(added.map((prefix) => ({ kind: 'replace-route', route: { prefix, link, metric, ...from } })));
        outcomes.forEach((outcome, i) => {
          if (outcome.ok) installed.add(added[i]!);
          else failure ??= outcome.error;
        });
      } catch (err) {
        failure ??= err;
      }
    }
    record({ metric, source, prefixes: installed });
    if (failure !== undefined) throw failure;
  }
}
