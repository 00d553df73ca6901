import { read16, read32, write16, write32 } from './big-endian.js';
import { internetChecksum } from './checksum.js';
import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';

/** Length of an IPv4 header without options. */
export const IPV4_HEADER_LENGTH = 20;

/** A decoded IPv4 header; offsets are absolute into the decoded buffer, nothing is copied. */
export interface Ipv4Header {
  ok: true;
  /** IHL × 4, 20..60. */
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Fragment offset in bytes (the 13-bit field × 8). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  /** Source address as an unsigned 32-bit number (a.b.c.d = a<<24|b<<16|c<<8|d). */
  src: number;
  /** Destination address as an unsigned 32-bit number. */
  dst: number;
  payloadOffset: number;
  /** totalLength − headerLength: link padding after totalLength is not payload. */
  payloadLength: number;
}

/** Options of decodeIpv4. */
export interface Ipv4DecodeOptions {
  /** Verify the header checksum (default true); packets from a local TUN may skip it. */
  verifyChecksum?: boolean;
}

/**
 * Decodes the IPv4 header at [offset, offset+length): version 4, IHL ≥ 5,
 * headerLength ≤ totalLength ≤ length, and (by default) the header checksum.
 */
export function decodeIpv4(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
  options?: Ipv4DecodeOptions,
): Ipv4Header | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < IPV4_HEADER_LENGTH) return decodeError('truncated');
  const b0 = buf[offset]!;
  if (b0 >>> 4 !== 4) return decodeError('bad-version');
  const headerLength = (b0 & 0x0f) << 2;
  if (headerLength < IPV4_HEADER_LENGTH) return decodeError('bad-header-length');
  if (headerLength > length) return decodeError('truncated');
  const totalLength = read16(buf, offset + 2);
  if (totalLength < headerLength || totalLength > length) return decodeError('bad-total-length');
  if (options?.verifyChecksum !== false && internetChecksum(buf, offset, headerLength) !== 0) {
    return decodeError('bad-checksum');
  }
  const flagsFragment = read16(buf, offset + 6);
  return {
    ok: true,
    headerLength,
    tos: buf[offset + 1]!,
    totalLength,
    id: read16(buf, offset + 4),
    dontFragment: (flagsFragment & 0x4000) !== 0,
    moreFragments: (flagsFragment & 0x2000) !== 0,
    fragmentOffset: (flagsFragment & 0x1fff) << 3,
    ttl: buf[offset + 8]!,
    protocol: buf[offset + 9]!,
    checksum: read16(buf, offset + 10),
    src: read32(buf, offset + 12),
    dst: read32(buf, offset + 16),
    payloadOffset: offset + headerLength,
    payloadLength: totalLength - headerLength,
  };
}

/** Fields of an IPv4 header written by encodeIpv4Header (no options, never a fragment). */
export interface Ipv4HeaderFields {
  tos?: number;
  totalLength: number;
  id?: number;
  dontFragment?: boolean;
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
}

/** Writes a 20-byte IPv4 header with a correct checksum at `offset`; returns 20. */
export function encodeIpv4Header(target: Uint8Array, offset: number, fields: Ipv4HeaderFields): number {
  if (offset < 0 || offset + IPV4_HEADER_LENGTH > target.length) {
    throw new RangeError(`IPv4 header does not fit at offset ${offset} of a ${target.length}-byte buffer`);
  }
  target[offset] = 0x45;
  target[offset + 1] = (fields.tos ?? 0) & 0xff;
  write16(target, offset + 2, fields.totalLength);
  write16(target, offset + 4, fields.id ?? 0);
  write16(target, offset + 6, fields.dontFragment ? 0x4000 : 0);
  target[offset + 8] = fields.ttl & 0xff;
  target[offset + 9] = fields.protocol & 0xff;
  write16(target, offset + 10, 0);
  write32(target, offset + 12, fields.src);
  write32(target, offset + 16, fields.dst);
  write16(target, offset + 10, internetChecksum(target, offset, IPV4_HEADER_LENGTH));
  return IPV4_HEADER_LENGTH;
}
