import { read16, write16 } from './big-endian.js';
import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';
import { IPPROTO_IPIP, IPPROTO_IPV6 } from './ip-protocols.js';

/** Length of the GUE base header (variant 0, no extension fields). */
export const GUE_HEADER_LENGTH = 4;

/**
 * GUE flag P (private flags present), the only flag Linux understands; `validate_gue_flags`
 * drops anything else, so this decoder does too.
 */
export const GUE_FLAG_PRIVATE = 0x0001;

/** A decoded GUE header (draft-ietf-intarea-gue-09); offsets are absolute into the buffer. */
export interface GueHeader {
  ok: true;
  /** 0: full GUE header; 1: direct IPv4/IPv6 encapsulation with no GUE header at all. */
  variant: 0 | 1;
  /** C bit: a control message, where `protocol` is the control type (ctype). */
  control: boolean;
  /** The inner IP protocol (data) or ctype (control); variant 1 gives 4 or 41 from the IP version. */
  protocol: number;
  flags: number;
  /** 4 + Hlen × 4 for variant 0 (extension fields included); 0 for variant 1. */
  headerLength: number;
  payloadOffset: number;
  payloadLength: number;
}

/**
 * Decodes a GUE UDP payload at [offset, offset+length), as Linux `encap gue` (net/ipv4/fou_core.c
 * gue_udp_recv) reads it: the first two bits are the variant; variant 0 is
 * Ver(2)=0 | C(1) | Hlen(5, 32-bit words of extension fields) | Proto/ctype(8) | Flags(16);
 * variant 1 is a bare IPv4 (first nibble 4) or IPv6 (first nibble 6) packet.
 */
export function decodeGue(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): GueHeader | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < 1) return decodeError('truncated');
  const b0 = buf[offset]!;
  const variant = b0 >>> 6;
  if (variant === 1) {
    const ipVersion = b0 >>> 4;
    if (ipVersion !== 4 && ipVersion !== 6) return decodeError('unsupported-protocol', 'GUE variant 1 carries neither IPv4 nor IPv6');
    return {
      ok: true,
      variant: 1,
      control: false,
      protocol: ipVersion === 4 ? IPPROTO_IPIP : IPPROTO_IPV6,
      flags: 0,
      headerLength: 0,
      payloadOffset: offset,
      payloadLength: length,
    };
  }
  if (variant !== 0) return decodeError('bad-version');
  if (length < GUE_HEADER_LENGTH) return decodeError('truncated');
  const headerLength = GUE_HEADER_LENGTH + ((b0 & 0x1f) << 2);
  if (headerLength > length) return decodeError('truncated');
  const flags = read16(buf, offset + 2);
  if ((flags & ~GUE_FLAG_PRIVATE) !== 0) return decodeError('bad-flags');
  if ((flags & GUE_FLAG_PRIVATE) !== 0 && headerLength < GUE_HEADER_LENGTH + 4) {
    return decodeError('bad-header-length', 'private flags need 4 bytes of extension fields');
  }
  return {
    ok: true,
    variant: 0,
    control: (b0 & 0x20) !== 0,
    protocol: buf[offset + 1]!,
    flags,
    headerLength,
    payloadOffset: offset + headerLength,
    payloadLength: length - headerLength,
  };
}

/** Fields of a GUE variant 0 header written by encodeGueHeader. */
export interface GueHeaderFields {
  control?: boolean;
  /** Inner IP protocol for data messages, ctype for control messages. */
  protocol: number;
  flags?: number;
}

/** Writes a 4-byte GUE variant 0 header (Hlen 0, no extension fields) at `offset`; returns 4. */
export function encodeGueHeader(target: Uint8Array, offset: number, fields: GueHeaderFields): number {
  if (offset < 0 || offset + GUE_HEADER_LENGTH > target.length) {
    throw new RangeError(`GUE header does not fit at offset ${offset} of a ${target.length}-byte buffer`);
  }
  target[offset] = fields.control ? 0x20 : 0;
  target[offset + 1] = fields.protocol & 0xff;
  write16(target, offset + 2, fields.flags ?? 0);
  return GUE_HEADER_LENGTH;
}
