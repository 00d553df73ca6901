import type { KernelChange } from '../system/kernel-change.js';
import type { KernelNetworkConfig } from '../system/kernel-network-config.js';

/** What KernelRoutes needs of the kernel configuration; injected so tests record the changes. */
export type RouteChanges = Pick<KernelNetworkConfig, 'applySync'>;

interface InstalledSet {
  metric: number;
  prefixes: Set<string>;
}

/**
 * The routes this process put into the kernel: per interface, the prefixes routed through it at
 * one metric, plus a set of `unreachable` routes. Each change sends only the difference (one
 * batch of changes for what goes, one per family for what comes). A tunnel interface takes its routes with it when
 * it is deleted, so re-created interfaces start empty (`fresh`) and removed ones are forgotten.
 */
export class KernelRoutes {
  private readonly devices = new Map<string, InstalledSet>();
  private unreachable: InstalledSet = { metric: 0, prefixes: new Set() };

  constructor(private readonly kernel: RouteChanges) {}

  /**
   * Makes `device` carry exactly `prefixes` (canonical CIDRs) at `metric`. `fresh`: the interface
   * was just created, so it carries nothing yet. On a failure (thrown after trying the rest), what
   * is known to be installed stays recorded and the rest is tried again on the next call.
   */
  setDevice(device: string, prefixes: readonly string[], metric: number, fresh: boolean): void {
    const before = fresh ? undefined : this.devices.get(device);
    this.reconcile(before, new Set(prefixes), metric, device, (installed) => {
      if (installed.prefixes.size === 0) this.devices.delete(device);
      else this.devices.set(device, installed);
    });
  }

  /** The interface is gone (its routes went with it). */
  forgetDevice(device: string): void {
    this.devices.delete(device);
  }

  /** Makes the `unreachable` routes exactly `prefixes` at `metric` (a router's answer for what it cannot reach now). */
  setUnreachable(prefixes: readonly string[], metric: number): void {
    this.reconcile(this.unreachable, new Set(prefixes), metric, null, (installed) => {
      this.unreachable = installed;
    });
  }

  /** The prefixes routed through `device` by this process, sorted. */
  routesOf(device: string): string[] {
    return [...(this.devices.get(device)?.prefixes ?? [])].sort();
  }

  /** Takes out every unreachable route (at shutdown: unlike device routes, they would outlive the process). */
  clearUnreachable(): void {
    this.setUnreachable([], this.unreachable.metric);
  }

  /** Routes through `link` (null: unreachable routes) from `before` to `wanted` at `metric`. */
  private reconcile(before: InstalledSet | undefined, wanted: Set<string>, metric: number,
    link: string | null, record: (installed: InstalledSet) => void): void {
    const kept = new Set<string>();
    const removals: KernelChange[] = [];
    for (const prefix of before?.prefixes ?? []) {
      if (wanted.has(prefix) && before!.metric === metric) kept.add(prefix);
      else removals.push({ kind: 'delete-route', route: { prefix, link, metric: before!.metric } });
    }
    // A refused removal is fine: a deleted interface took its routes along.
    if (removals.length > 0) this.kernel.applySync(removals);
    // Until the additions succeed only what stayed is known to be installed: a failure is retried
    // next time. IPv4 and IPv6 go separately, so a host without IPv6 still gets its IPv4 routes.
    const installed = new Set(kept);
    record({ metric, prefixes: installed });
    let failure: unknown;
    for (const family of [[...wanted].filter((p) => !p.includes(':')), [...wanted].filter((p) => p.includes(':'))]) {
      const added = family.filter((prefix) => !kept.has(prefix));
      if (added.length === 0) continue;
      try {
        const outcomes = this.kernel.applySync(added.map((prefix) => ({ kind: 'replace-route', route: { prefix, link, metric } })));
        outcomes.forEach((outcome, i) => {
          if (outcome.ok) installed.add(added[i]!);
          else failure ??= outcome.error;
        });
      } catch (err) {
        failure ??= err;
      }
    }
    record({ metric, prefixes: installed });
    if (failure !== undefined) throw failure;
  }
}
