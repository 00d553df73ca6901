import { TunnelError } from '../errors.js';

/** One SA as a router's config takes it: its SPI and its key followed by the 4-byte salt, in hex. */
export interface RenderedSa {
  spi: number;
  /** Key ‖ salt as `ip xfrm state … aead NAME 0xKEY 128` takes it (20, 28 or 36 bytes). */
  keyHex: string;
}

/**
 * The static SAs one end of an encrypted link is rendered with (the hub derives them; a router
 * keeps them until `tunnel-hub peer rekey`). Only `peer config` and the SSH `config` command,
 * both on channels the router authenticated or the operator runs, ever print them.
 */
export interface LinkEspKeys {
  aead: 'aes-gcm' | 'chacha20-poly1305';
  /** What this end seals with: the other end's inbound SA. */
  outbound: RenderedSa;
  /** What this end opens: the other end's outbound SA. */
  inbound: RenderedSa;
  /** How the link carries ESP: raw (IP protocol 50) or in UDP (RFC 3948). */
  path: 'raw' | 'udp';
}

/** An SPI as `ip xfrm` and setkey print it: `0x` and 8 hex digits. */
export function spiHex(spi: number): string {
  if (!Number.isInteger(spi) || spi < 256 || spi > 0xffff_ffff) throw new TunnelError('ERR_INVALID_ARGUMENT', `SPI ${String(spi)} is outside 256..2^32-1`);
  return `0x${spi.toString(16).padStart(8, '0')}`;
}

/** A key as both tools take it: `0x` and its hex digits, checked so nothing but hex reaches a command line. */
export function keyHex(sa: RenderedSa): string {
  if (!/^(?:[0-9a-f]{2}){20,36}$/.test(sa.keyHex)) throw new TunnelError('ERR_INVALID_KEY', `the key of SA ${spiHex(sa.spi)} is not 20 to 36 bytes of hex`);
  return `0x${sa.keyHex}`;
}

/** The IP protocols of the packet ESP protects: GRE (and gretap), or IP in IP (IPv4 4 and IPv6 41 inside). */
export function protectedProtocols(encap: string): number[] {
  return encap === 'ipip' ? [4, 41] : [47];
}
