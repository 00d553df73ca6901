import type { ControlRegistry } from '../control/control-registry.js';
import { generateEspMasterKey } from '../control/link-sa-keeper.js';
import { peerRevocationError } from '../control/peer-revocation-error.js';
import type { Registry } from '../registry/registry.js';
import { HUB_FRESH_MS } from './cluster-membership.js';

/** The endpoint-history source of addresses the hub saw a peer's authenticated connection come from. */
export const OBSERVED_SOURCE = 'observed';

/**
 * The control plane's view of the registry. Only the seen address goes into the endpoint history
 * (link tables print the latest one, so it must be an address the hub would send to); the
 * reported one is kept beside the peer's issued config. A hub of a cluster (`hubName`) is reached
 * at its own endpoint, claims the sessions it serves, and calls `claimed` after each claim.
 */
export function controlRegistryOver(registry: Registry, hubName?: string, claimed?: () => void): ControlRegistry {
  return {
    // A hub of a cluster is reached at its own endpoint; a hub alone at the registry's.
    hubEndpoint: async () => (hubName === undefined ? (await registry.settings.require()).endpoint : (await registry.hubs.require(hubName, HUB_FRESH_MS)).endpoint),
    issueSpecs: async (peer, linkId, hubEnd, peerConfig, reported, seen) =>
      registry.specs.issue(peer, linkId, hubEnd, peerConfig, reported, seen === null ? undefined : { address: seen, source: OBSERVED_SOURCE }),
    pinnedEncap: async (peer) => (await registry.peers.find(peer))?.pinnedEncap ?? null,
    peerStanding: async (peer) => {
      const record = await registry.peers.find(peer);
      return record && { revocation: peerRevocationError(record), pinnedEncap: record.pinnedEncap, encrypt: record.encrypt };
    },
    linksOf: async (peer) => {
      const { hubLink, peerLinks } = await registry.links.linksWithTablesOf(peer);
      return {
        hubLink: { id: hubLink.link.id, table: hubLink.table, greKey: hubLink.link.greKey, keyless: hubLink.link.keyless },
        peerLinks: await Promise.all(peerLinks.map(async ({ link, table }) => {
          const other = link.ends[0] === peer ? link.ends[1] : link.ends[0];
          return {
            linkId: link.id,
            other,
            otherEncrypt: await registry.encryption.of(other),
            table,
            greKey: link.greKey,
            keyless: link.keyless,
            ...(link.kind === 'shortcut'
              ? { kind: 'shortcut' as const, why: link.why ?? 'shortcut', otherHubAddress: (await registry.links.hubLinkOf(other)).inner[1] }
              : {}),
          };
        })),
      };
    },
    recordLinkPath: async (linkId, encap, reason, esp) => registry.paths.record(linkId, encap, reason, esp ?? null),
    latestEndpoint: async (peer) => (await registry.endpoints.latest(peer))?.address ?? null,
    recordHubApplied: async (linkId, version) => registry.specs.recordHubApplied(linkId, version),
    recordPeerAck: (peer, version) => registry.specs.recordPeerAck(peer, version),
    routingFacts: async () => registry.routing.facts(),
    memberRouting: async (peer) => registry.routing.memberRecord(peer),
    recordRouteRequests: async (peer, prefixes) => registry.routing.recordRequests(peer, prefixes),
    espMasterKey: () => registry.clusterSecrets.espMasterKey(generateEspMasterKey),
    latestSaEpochs: (linkIds) => registry.saEpochs.latest(linkIds),
    startSaEpoch: (linkId, aead, reason) => registry.saEpochs.start({ kind: 'member', linkId }, aead, reason),
    claimSession: async (peer) => {
      if (hubName === undefined) return;
      await registry.sessions.claim(peer, hubName);
      // This hub's own writes are not announced back to it: its hub<->hub routes follow here.
      claimed?.();
    },
    servedElsewhere: async (peer) => {
      if (hubName === undefined) return null;
      const owner = await registry.sessions.owner(peer);
      return owner !== null && owner !== hubName ? owner : null;
    },
    clusterView: async () => {
      if (hubName === undefined) return undefined;
      // Hubs that never served have no front door to offer yet.
      const hubs = (await registry.hubs.list(HUB_FRESH_MS)).filter((hub) => hub.wsUrl !== null);
      return {
        hub: hubName,
        hubs: hubs.map((hub) => ({
          name: hub.name, url: hub.wsUrl as string, endpoint: hub.endpoint, hostKey: hub.hostKeyFingerprint,
          ...(hub.sshPort !== null ? { sshPort: hub.sshPort } : {}),
        })),
      };
    },
  };
}
