import { read16, write16 } from './big-endian.js';
import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';

/** Length of the fixed IPv6 header. */
export const IPV6_HEADER_LENGTH = 40;

/** A decoded fixed IPv6 header; addresses are given as offsets (16 bytes each), not copied. */
export interface Ipv6Header {
  ok: true;
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  srcOffset: number;
  dstOffset: number;
  payloadOffset: number;
}

/**
 * Decodes the fixed IPv6 header at [offset, offset+length): version 6 and
 * 40 + payloadLength ≤ length. Extension headers are not walked; jumbograms (payloadLength 0
 * with a hop-by-hop jumbo option) are not supported on a tunnel and read as an empty payload.
 */
export function decodeIpv6(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): Ipv6Header | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < IPV6_HEADER_LENGTH) return decodeError('truncated');
  const b0 = buf[offset]!;
  if (b0 >>> 4 !== 6) return decodeError('bad-version');
  const payloadLength = read16(buf, offset + 4);
  if (IPV6_HEADER_LENGTH + payloadLength > length) return decodeError('bad-total-length');
  return {
    ok: true,
    trafficClass: ((b0 & 0x0f) << 4) | (buf[offset + 1]! >>> 4),
    flowLabel: ((buf[offset + 1]! & 0x0f) << 16) | read16(buf, offset + 2),
    payloadLength,
    nextHeader: buf[offset + 6]!,
    hopLimit: buf[offset + 7]!,
    srcOffset: offset + 8,
    dstOffset: offset + 24,
    payloadOffset: offset + IPV6_HEADER_LENGTH,
  };
}

/** The IP version nibble of the packet at `offset`: 4, 6, or 0 when neither (or out of bounds). */
export function ipVersionOf(buf: Uint8Array, offset = 0): 4 | 6 | 0 {
  if (offset < 0 || offset >= buf.length) return 0;
  const v = buf[offset]! >>> 4;
  return v === 4 ? 4 : v === 6 ? 6 : 0;
}

/** Fields of a fixed IPv6 header to encode; addresses are 16 bytes each. */
export interface Ipv6HeaderFields {
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
}

/** Writes a fixed IPv6 header (traffic class and flow label 0) at `offset`; returns 40. */
export function encodeIpv6Header(target: Uint8Array, offset: number, fields: Ipv6HeaderFields): number {
  if (offset < 0 || offset + IPV6_HEADER_LENGTH > target.length) {
    throw new RangeError(`IPv6 header does not fit at offset ${offset} of a ${target.length}-byte buffer`);
  }
  if (fields.src.length !== 16 || fields.dst.length !== 16) throw new RangeError('IPv6 addresses are 16 bytes');
  target[offset] = 0x60;
  target[offset + 1] = 0;
  write16(target, offset + 2, 0);
  write16(target, offset + 4, fields.payloadLength);
  target[offset + 6] = fields.nextHeader;
  target[offset + 7] = fields.hopLimit;
  target.set(fields.src, offset + 8);
  target.set(fields.dst, offset + 24);
  return IPV6_HEADER_LENGTH;
}
