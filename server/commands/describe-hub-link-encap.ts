import type { HubLinkRecord } from '../registry/hub-link-store.js';

/** One line about a hub link's encapsulation: `gre`, `fou (gre-unanswered)`, `gre (pinned)`. */
export function describeHubLinkEncap(link: Pick<HubLinkRecord, 'encap' | 'encapReason' | 'pinned'>): string {
  return link.encapReason === 'default' ? link.encap : `${link.encap} (${link.encapReason})`;
}
