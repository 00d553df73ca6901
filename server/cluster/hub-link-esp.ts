import type { EspPath, WireTunnelEsp } from '../../shared/protocol/index.js';
import type { SaEpochRecord } from '../registry/link-sa-epoch-store.js';
import type { LinkSaPair } from '../control/link-sa-keys.js';

/**
 * How long after a rekey epoch was written the hubs of the pair start sealing with it: both have
 * heard of it by then (NOTIFY reaches the other hub in tens of milliseconds) and opened it.
 */
export const HUB_LINK_SWITCH_DELAY_MS = 5_000;

/** The reason of the epoch a hub writes when it starts: nothing sealed under an older one can come from it again. */
export const HUB_START_REASON = 'hub-start';

/** What one hub runs on a hub<->hub link at `now`, and when that changes next. */
export interface HubLinkEspPlan {
  esp: WireTunnelEsp;
  /** When the SAs change next without a new epoch (the switch, the end of the grace), or null. */
  nextChangeAt: number | null;
}

/**
 * The ESP of this hub's end of a hub<->hub link (pure). The two hubs cannot acknowledge each
 * other, so the make-before-break runs on the epochs' timestamps instead, which both read from the
 * registry: a new epoch is opened by both at once, sealed with from `HUB_LINK_SWITCH_DELAY_MS`
 * after it was written, and the older one is still opened for `graceMs` (`serve --rekey-grace`) after
 * that: packets sealed just before, and clocks a few seconds apart. An
 * epoch a hub wrote when it started is sealed with at once: that hub holds no older SAs.
 * `epochs` are newest first (at least one); `pairs` has each one's SAs; `first` says which end
 * this hub is (the lower name).
 */
export function hubLinkEsp(epochs: readonly SaEpochRecord[], pairs: ReadonlyMap<number, LinkSaPair>, first: boolean, path: EspPath, now: number, graceMs: number): HubLinkEspPlan {
  const [newest, previous] = epochs;
  if (!newest) throw new Error('a hub link needs an epoch');
  const switchAt = newest.reason === HUB_START_REASON ? newest.createdAt : newest.createdAt + HUB_LINK_SWITCH_DELAY_MS;
  const graceEnd = switchAt + graceMs;
  const older = previous && pairs.has(previous.epoch) && now < graceEnd ? previous : undefined;
  const sealing = now < switchAt && older ? older : newest;
  const pairOf = (epoch: SaEpochRecord): LinkSaPair => pairs.get(epoch.epoch) as LinkSaPair;
  const sealed = (pair: LinkSaPair) => (first ? pair.firstToSecond : pair.secondToFirst);
  const opened = (pair: LinkSaPair) => (first ? pair.secondToFirst : pair.firstToSecond);
  const wire = (sa: { spi: number; key: Buffer }) => ({ spi: sa.spi, key: sa.key.toString('base64url') });
  return {
    esp: {
      aead: pairOf(sealing).aead,
      outbound: wire(sealed(pairOf(sealing))),
      inbound: [newest, ...(older ? [older] : [])].map((epoch) => wire(opened(pairOf(epoch)))),
      udp: path === 'udp' ? {} : null,
    },
    nextChangeAt: older ? (now < switchAt ? switchAt : graceEnd) : null,
  };
}
