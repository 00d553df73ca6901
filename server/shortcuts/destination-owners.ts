import ipaddr from 'ipaddr.js';
import type { ShortcutRegistryView } from './shortcut-registry.js';

/** Looked-up addresses kept at most; the cache starts over past it. */
const MAX_CACHED = 4096;

/**
 * Which member an inner destination belongs to: its own address on its hub link, or one of its
 * approved prefixes. Built once per registry change; the hub asks only for the few destinations its tallies
 * counted, and remembers each answer until the registry changes.
 */
export class DestinationOwners {
  /** Each member's own address on its hub link. */
  private readonly hubAddresses = new Map<string, string>();
  private readonly approved: { range: [ipaddr.IPv4 | ipaddr.IPv6, number]; member: string }[] = [];
  private readonly cache = new Map<string, string | null>();

  constructor(view: ShortcutRegistryView) {
    for (const [member, peer] of view.peers) {
      if (!peer.revoked) this.hubAddresses.set(peer.hubAddress, member);
    }
    for (const [member, prefixes] of view.routing.approved) {
      for (const prefix of prefixes) this.approved.push({ range: ipaddr.parseCIDR(prefix), member });
    }
  }

  /** The member `address` belongs to, or null (the hub's own, a pool's unused part, anything else). */
  ownerOf(address: string): string | null {
    const cached = this.cache.get(address);
    if (cached !== undefined) return cached;
    const owner = this.lookup(address);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(address, owner);
    return owner;
  }

  private lookup(address: string): string | null {
    const member = this.hubAddresses.get(address);
    if (member !== undefined) return member;
    if (!ipaddr.isValid(address)) return null;
    const parsed = ipaddr.parse(address);
    for (const { range, member } of this.approved) {
      if (range[0].kind() === parsed.kind() && parsed.match(range)) return member;
    }
    return null;
  }
}
