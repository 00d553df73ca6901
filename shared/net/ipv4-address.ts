import ipaddr from 'ipaddr.js';
import { TunnelError } from '../errors.js';

/**
 * Parses a dotted-quad IPv4 address into an unsigned 32-bit integer. Only the strict four-part
 * decimal form is accepted: `10.1`, `0x0a.1.1.1` and other legacy spellings are refused because
 * users never mean them in a tunnel table.
 */
export function parseIpv4Address(text: string): number {
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `"${text}" is not an IPv4 address (expected four decimal parts, e.g. 198.51.100.1)`);
  }
  const [a, b, c, d] = ipaddr.IPv4.parse(text).octets as [number, number, number, number];
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

/** Formats an unsigned 32-bit integer as a dotted-quad IPv4 address. */
export function formatIpv4Address(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** True when `text` is a strict dotted-quad IPv4 address. */
export function isIpv4Address(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}
