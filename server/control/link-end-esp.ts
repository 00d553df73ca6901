import { TunnelError } from '../../shared/errors.js';
import type { EspPath, WireTunnelEsp } from '../../shared/protocol/index.js';
import type { LinkSa, LinkSaPair } from './link-sa-keys.js';
import { epochsOf, type LinkRekeyState } from './link-rekey-state.js';

/** An encrypted link's keys as a plan uses them: where its rekey stands and the SAs of the epochs involved. */
export interface LinkSaKeying {
  state: LinkRekeyState;
  /** The SA pair of every epoch `state` names. */
  pairs: ReadonlyMap<number, LinkSaPair>;
}

/** Which end of a link: the first (the hub on a hub link, else the lower address) or the second. */
export type LinkEnd = 'first' | 'second';

/**
 * The `esp` of one end's spec (pure): it seals with its own direction of the outbound epoch and
 * opens the other direction of every inbound epoch, newest first. ESP in UDP on both ends' 4500.
 */
export function endEspOf(keying: LinkSaKeying, end: LinkEnd, path: EspPath): WireTunnelEsp {
  const epochs = epochsOf(keying.state);
  const pairOf = (epoch: number): LinkSaPair => {
    const pair = keying.pairs.get(epoch);
    if (!pair) throw new TunnelError('ERR_INTERNAL', `no SAs derived for epoch ${epoch}`);
    return pair;
  };
  const sealed = (pair: LinkSaPair): LinkSa => (end === 'first' ? pair.firstToSecond : pair.secondToFirst);
  const opened = (pair: LinkSaPair): LinkSa => (end === 'first' ? pair.secondToFirst : pair.firstToSecond);
  const outbound = pairOf(epochs.outbound);
  return {
    aead: outbound.aead,
    outbound: wireSa(sealed(outbound)),
    inbound: epochs.inbound.map((epoch) => wireSa(opened(pairOf(epoch)))),
    udp: path === 'udp' ? {} : null,
  };
}

function wireSa(sa: LinkSa): { spi: number; key: string } {
  return { spi: sa.spi, key: sa.key.toString('base64url') };
}
