import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import type { HubBindingStatus, HubDatapath, TunnelTraffic } from '../../server/control/hub-datapath.js';

/** One change the control plane made to the hub's datapath. */
export type DatapathChange = { op: 'upsert'; peer: string; spec: WireTunnelSpec } | { op: 'remove'; name: string };

/** A HubDatapath for unit tests of the control plane: runs nothing, records every upsert and remove in order. */
export class RecordingHubDatapath implements HubDatapath {
  /** Every upsert and remove, in order. */
  readonly changes: DatapathChange[] = [];
  /** The spec each tunnel runs now. */
  readonly tunnels = new Map<string, WireTunnelSpec>();
  /** The unreachable fallback routes last asked for. */
  unreachable: readonly string[] = [];
  /** What each tunnel's destination tally holds until drained; tests add to it. */
  readonly destinations = new Map<string, { address: string; bytes: number }[]>();
  /** The binding each hub end holds (its member's NAT mapping); tests set it. */
  readonly bindings = new Map<string, HubBindingStatus>();

  drainBusyDestinations(): ReadonlyMap<string, { address: string; bytes: number }[]> {
    const drained = new Map([...this.destinations].filter(([, counts]) => counts.length > 0));
    this.destinations.clear();
    return drained;
  }

  binding(name: string): HubBindingStatus | undefined {
    return this.tunnels.has(name) ? this.bindings.get(name) : undefined;
  }

  async upsert(spec: WireTunnelSpec, peer: string): Promise<void> {
    this.changes.push({ op: 'upsert', peer, spec });
    this.tunnels.set(spec.name, spec);
  }

  async remove(name: string): Promise<void> {
    this.changes.push({ op: 'remove', name });
    this.tunnels.delete(name);
  }

  async routeUnreachable(prefixes: readonly string[]): Promise<void> {
    this.unreachable = [...prefixes];
  }

  traffic(name: string): TunnelTraffic | undefined {
    if (!this.tunnels.has(name)) return undefined;
    const zero = { packets: 0, bytes: 0, errors: 0, dropped: 0 };
    return { rx: { ...zero }, tx: { ...zero } };
  }

  /** The upserts of one tunnel, in order. */
  upsertsOf(name: string): WireTunnelSpec[] {
    return this.changes.flatMap((change) => (change.op === 'upsert' && change.spec.name === name ? [change.spec] : []));
  }

  async close(): Promise<void> {
    this.tunnels.clear();
  }
}
