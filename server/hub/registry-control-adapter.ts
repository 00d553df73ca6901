import type { ControlRegistry } from '../control/control-registry.js';
import { peerRevocationError } from '../control/peer-revocation-error.js';
import type { Registry } from '../registry/registry.js';

/** The endpoint-history source of addresses the hub saw a peer's authenticated connection come from. */
export const OBSERVED_SOURCE = 'observed';

/**
 * The control plane's view of the registry. Only the seen address goes into the endpoint history
 * (link tables print the latest one, so it must be an address the hub would send to); the
 * reported one is kept beside the peer's issued config.
 */
export function controlRegistryOver(registry: Registry): ControlRegistry {
  const hubLinkId = (peer: string): number => registry.links.hubLinkOf(peer).id;
  return {
    hubEndpoint: () => registry.settings.require().endpoint,
    hubLinkTable: (peer) => (registry.peers.find(peer) ? registry.links.table(hubLinkId(peer)) : undefined),
    recordEndpoint: (peer, seen) => {
      registry.endpoints.record(peer, { address: seen, source: OBSERVED_SOURCE });
    },
    issueSpecs: (peer, hubEnd, peerConfig, reported) => registry.specs.issue(peer, hubLinkId(peer), hubEnd, peerConfig, reported),
    pinnedEncap: (peer) => registry.peers.find(peer)?.pinnedEncap ?? null,
    recordHubPath: (peer, encap, reason) => {
      registry.paths.record(hubLinkId(peer), encap, reason);
    },
    hubLinkId,
    linkTable: (linkId) => registry.links.table(linkId),
    peerLinks: (peer) => registry.links.listForPeer(peer).filter((link) => !link.hubLink).map((link) => ({
      linkId: link.id,
      other: link.ends[0] === peer ? link.ends[1] : link.ends[0],
      table: registry.links.table(link.id),
    })),
    recordLinkPath: (linkId, encap, reason) => {
      registry.paths.record(linkId, encap, reason);
    },
    latestEndpoint: (peer) => registry.endpoints.latest(peer)?.address ?? null,
    peerExists: (peer) => registry.peers.find(peer) !== undefined,
    peerRevocation: (peer) => {
      const record = registry.peers.find(peer);
      return record && peerRevocationError(record);
    },
    recordHubApplied: (peer, version) => registry.specs.recordHubApplied(hubLinkId(peer), version),
    recordPeerAck: (peer, version) => registry.specs.recordPeerAck(peer, version),
    routingFacts: async () => registry.routing.facts(),
    memberRouting: async (peer) => registry.routing.memberRecord(peer),
    recordRouteRequests: async (peer, prefixes) => registry.routing.recordRequests(peer, prefixes),
    specVersions: (peer) => {
      const versions = registry.specs.versions(peer, hubLinkId(peer));
      return versions && { hub: versions.hub, peer: { issued: versions.peer.issued, acked: versions.peer.acked, ackedAt: versions.peer.ackedAt } };
    },
  };
}
