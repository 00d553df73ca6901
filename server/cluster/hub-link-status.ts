import { HUB_LINK_PREFIX, tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { HubDatapath, TunnelEncryptionStatus, TunnelTraffic } from '../control/hub-datapath.js';
import type { HubLinkEncap } from '../registry/hub-link-store.js';
import type { Registry } from '../registry/registry.js';

/** One hub<->hub link's line in `tunnel-hub status --json` (`hubLinks`), seen from this hub. */
export interface HubLinkStatus {
  /** The other hub. */
  hub: string;
  /** This hub's interface for the link. */
  tunnel: string;
  prefix: string;
  /** This hub's address on the /30, and the other hub's. */
  inner: string;
  peerInner: string;
  encap: HubLinkEncap;
  /** Why it runs `encap`: `default`, `gre-unanswered`, `fou-unanswered`, `pinned`, `unpinned`. */
  reason: string;
  pinned: boolean;
  /** The tunnel's liveness on the running hub (null: not running, or keepalives off). */
  state: 'up' | 'down' | null;
  counters: TunnelTraffic | null;
  /** ESP on the running link (both hubs encrypt): AEAD, SPIs, SA age, drops; never a key. Null when not running. */
  encryption: TunnelEncryptionStatus | null;
}

/** This hub's links to the other hubs of its cluster (none for a hub alone), overlaid with the running datapath's view. */
export async function hubLinkStatuses(registry: Registry, hubName: string | undefined, datapath?: HubDatapath): Promise<HubLinkStatus[]> {
  if (hubName === undefined) return [];
  const statuses: HubLinkStatus[] = [];
  for (const link of await registry.hubLinks.list()) {
    const mine = link.hubs.indexOf(hubName);
    if (mine === -1) continue;
    const other = link.hubs[1 - mine] as string;
    const tunnel = tunnelInterfaceName(other, HUB_LINK_PREFIX);
    const liveness = datapath?.liveness?.(tunnel);
    statuses.push({
      hub: other, tunnel, prefix: link.prefix, inner: link.inner[mine] as string, peerInner: link.inner[1 - mine] as string,
      encap: link.encap, reason: link.encapReason, pinned: link.pinned,
      state: liveness?.tracked ? liveness.state : null,
      counters: datapath?.traffic(tunnel) ?? null,
      encryption: datapath?.encryption?.(tunnel) ?? null,
    });
  }
  return statuses;
}
