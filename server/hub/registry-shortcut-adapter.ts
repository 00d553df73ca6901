import type { Registry } from '../registry/registry.js';
import type { ShortcutPeerRecord, ShortcutRegistry } from '../shortcuts/shortcut-registry.js';

/** The shortcut keeper's view of the registry: four reads per registry change, one write per shortcut made, removed or touched. */
export function shortcutRegistryOver(registry: Registry): ShortcutRegistry {
  return {
    view: async () => {
      const off = new Set(await registry.peers.shortcutsOff());
      const peers = new Map<string, ShortcutPeerRecord>();
      for (const peer of await registry.peers.list()) {
        peers.set(peer.name, { hubPrefix: peer.prefix, hubAddress: peer.inner, shortcuts: !off.has(peer.name), revoked: peer.revokedAt !== null });
      }
      const links = (await registry.links.list({ peerLinksOnly: true })).map((link) => ({
        linkId: link.id, ends: link.ends, kind: link.kind === 'shortcut' ? 'shortcut' as const : 'operator' as const, why: link.why,
        createdAt: link.createdAt, lastActiveAt: link.lastActiveAt,
      }));
      return { peers, links, routing: await registry.routing.facts() };
    },
    addShortcut: async (a, b, why) => ({ linkId: (await registry.links.addShortcut(a, b, why)).id }),
    removeShortcut: async (a, b, reason) => {
      await registry.links.removeShortcut(a, b, reason);
    },
    touchShortcut: async (a, b, at) => {
      await registry.links.touchShortcut(a, b, at);
    },
  };
}
