import type { RoutingFacts } from '../routing/member-routes.js';

/** A peer<->peer link as the shortcut keeper reads it from the registry. */
export interface ShortcutLinkRecord {
  readonly linkId: number;
  readonly ends: readonly [string, string];
  readonly kind: 'operator' | 'shortcut';
  /** Why the hub made a shortcut; null for an operator's link. */
  readonly why: string | null;
  readonly createdAt: number;
  /** When traffic last crossed a shortcut as last written (ms); null for an operator's link. */
  readonly lastActiveAt: number | null;
}

/** One member's standing, as far as shortcuts care. */
export interface ShortcutPeerRecord {
  /** Its hub link's /30 and its own address there: traffic toward either is traffic toward it. */
  readonly hubPrefix: string;
  readonly hubAddress: string;
  /** `peer set NAME --shortcuts on|off`. */
  readonly shortcuts: boolean;
  readonly revoked: boolean;
}

/** What the keeper reads from the registry once per registry change. */
export interface ShortcutRegistryView {
  /** Every registered peer by name. */
  readonly peers: ReadonlyMap<string, ShortcutPeerRecord>;
  /** Every peer<->peer link, the operator's too. */
  readonly links: readonly ShortcutLinkRecord[];
  /** Pools and approved prefixes behind members (revoked members left out). */
  readonly routing: RoutingFacts;
}

/** The registry as the shortcut keeper uses it (the hub implements it in server/hub/registry-shortcut-adapter.ts). */
export interface ShortcutRegistry {
  /** Peers, peer<->peer links and approved prefixes, read together. */
  view(): Promise<ShortcutRegistryView>;
  /** Makes a shortcut between two members with its own /30; refused (ERR_SHORTCUTS_OFF, ERR_LINK_EXISTS, …) changing nothing. */
  addShortcut(a: string, b: string, why: string): Promise<{ linkId: number }>;
  /** Removes the shortcut between two members and frees its /30; `reason` goes to the audit log. */
  removeShortcut(a: string, b: string, reason: string): Promise<void>;
  /** Records traffic across the shortcut between two members at `at` (ms). */
  touchShortcut(a: string, b: string, at: number): Promise<void>;
}
