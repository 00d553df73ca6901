import ipaddr from 'ipaddr.js';
import { NativeError } from './native-error.js';

/**
 * A socket address as the addon takes it: an IPv4 address as its unsigned 32-bit value
 * (a.b.c.d = a<<24|b<<16|c<<8|d), an IPv6 address as its 16 bytes.
 */
export type NativeAddress = number | Uint8Array;

/**
 * Parses a local or remote address for the addon: a strict dotted quad, or an IPv6 address without
 * a zone (a zone names a link, which outer sockets never bind to). Throws ERR_INVALID_ADDRESS.
 */
export function toNativeAddress(text: string): NativeAddress {
  if (typeof text === 'string' && ipaddr.IPv4.isValidFourPartDecimal(text)) {
    const [a, b, c, d] = ipaddr.IPv4.parse(text).octets as [number, number, number, number];
    return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
  }
  if (typeof text === 'string' && !text.includes('%') && ipaddr.IPv6.isValid(text)) {
    return Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray());
  }
  throw new NativeError('ERR_INVALID_ADDRESS', `${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
}

/** Formats an address the addon reported (IPv6 in RFC 5952's canonical form). */
export function fromNativeAddress(address: NativeAddress): string {
  if (typeof address === 'number') {
    return `${(address >>> 24) & 255}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
  }
  return (ipaddr.fromByteArray(Array.from(address)) as ipaddr.IPv6).toRFC5952String();
}
