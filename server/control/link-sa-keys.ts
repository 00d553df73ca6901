import { hkdfSync } from 'node:crypto';
import { TunnelError } from '../../shared/errors.js';
import type { LinkAead, SaLinkRef } from '../registry/link-sa-epoch-store.js';

/**
 * The AEAD encrypted links run: AES-GCM with a 256-bit key (RFC 4106, Linux `rfc4106(gcm(aes))`).
 * It costs about half of ChaCha20-Poly1305 per packet on CPUs with AES instructions (native/README.md),
 * and 256 bits cost 2-7 % more than 128 here.
 */
export const LINK_AEAD: LinkAead = 'aes-gcm';

/** Key and 4-byte salt per AEAD, as Linux takes them: AES-256 + salt, ChaCha20 + salt. */
const KEY_BYTES: Readonly<Record<LinkAead, number>> = { 'aes-gcm': 36, 'chacha20-poly1305': 36 };

/** The lowest SPI a link uses; below it 0-255 are reserved (RFC 4303) and the rest is left to others. */
export const LINK_SPI_BASE = 0x1000;

/** HKDF's salt: fixed, names the purpose and version of the derivation. */
const HKDF_SALT = Buffer.from('tunnel-coordinator esp sa v1');

/** One SA: the SPI the receiver knows it by, and the key with its salt (never shown). */
export interface LinkSa {
  readonly spi: number;
  readonly key: Buffer;
}

/** Which way an SA runs: from the link's first end (the hub, or the lower address) to its second, or back. */
export type SaDirection = 'first-to-second' | 'second-to-first';

/** Both SAs of one epoch of a link. */
export interface LinkSaPair {
  readonly epoch: number;
  readonly aead: LinkAead;
  readonly firstToSecond: LinkSa;
  readonly secondToFirst: LinkSa;
}

/**
 * The SPI of one direction of an epoch. Epochs are unique in the registry, so SPIs are too: no
 * receiver ever holds two SAs with one SPI, whichever links and hubs they came from.
 */
export function linkSpi(epoch: number, direction: SaDirection): number {
  const spi = LINK_SPI_BASE + 2 * epoch + (direction === 'first-to-second' ? 0 : 1);
  if (!Number.isSafeInteger(epoch) || epoch < 1 || spi > 0xffff_ffff) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `SA epoch ${String(epoch)} is outside 1..${Math.floor((0xffff_ffff - LINK_SPI_BASE) / 2)}`);
  }
  return spi;
}

/**
 * Derives an epoch's two SAs from the cluster's ESP master key with HKDF-SHA256 (RFC 5869). The
 * info names the link (kind and id), the epoch, the AEAD and the direction, so every SA gets a key
 * of its own (key separation: knowing one SA's key says nothing of another's), and every hub of a
 * cluster that reads the same epoch derives the same keys without any key being stored or sent
 * between hubs. Pure: no I/O.
 */
export function deriveLinkSaPair(master: Uint8Array, link: SaLinkRef, epoch: number, aead: LinkAead): LinkSaPair {
  if (master.length < 32) throw new TunnelError('ERR_INVALID_KEY', `the ESP master key must hold at least 32 bytes, got ${master.length}`);
  const linkName = link.kind === 'member' ? `member-link ${link.linkId}` : `hub-link ${link.hubLinkId}`;
  const sa = (direction: SaDirection): LinkSa => ({
    spi: linkSpi(epoch, direction),
    key: Buffer.from(hkdfSync('sha256', master, HKDF_SALT, `${linkName} epoch ${epoch} ${aead} ${direction}`, KEY_BYTES[aead])),
  });
  return { epoch, aead, firstToSecond: sa('first-to-second'), secondToFirst: sa('second-to-first') };
}
