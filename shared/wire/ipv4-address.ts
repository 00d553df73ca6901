import { TunnelError } from '../errors.js';

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted quad into an unsigned 32-bit number; throws ERR_INVALID_ADDRESS otherwise. */
export function ipv4ToNumber(address: string): number {
  const m = DOTTED_QUAD.exec(address);
  if (m === null) throw new TunnelError('ERR_INVALID_ADDRESS', `not an IPv4 address: ${JSON.stringify(address)}`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    const octet = Number(part);
    if (octet > 255 || (part.length > 1 && part.startsWith('0'))) {
      throw new TunnelError('ERR_INVALID_ADDRESS', `not an IPv4 address: ${JSON.stringify(address)}`);
    }
    n = n * 256 + octet;
  }
  return n;
}

/** Formats an unsigned 32-bit number as a dotted quad. */
export function numberToIpv4(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}
