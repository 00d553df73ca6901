import type { MessageOf } from '../../shared/protocol/index.js';

/** One shortcut tunnel as its member reported it (`link-report`). */
export type ShortcutLinkReport = MessageOf<'link-report'>['links'][number];

/**
 * What the control plane asks of whoever keeps the hub's shortcuts (server/shortcuts), and what it
 * tells it: a shortcut's routes go into the members' configs only once it is verified, and the
 * members' reports of their shortcut tunnels go there.
 */
export interface ShortcutLinks {
  /** True when the routes of shortcut `linkId` go in: both ends reported its tunnel up. */
  routed(linkId: number): boolean;
  /** `peer`'s session reported its shortcut tunnels. */
  reported(peer: string, links: readonly ShortcutLinkReport[]): void;
}
