import { read16, read32, write16, write32 } from './big-endian.js';
import { internetChecksum } from './checksum.js';
import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';

/** GRE protocol type (EtherType) of an IPv4 payload. */
export const GRE_PROTO_IPV4 = 0x0800;
/** GRE protocol type (EtherType) of an IPv6 payload. */
export const GRE_PROTO_IPV6 = 0x86dd;
/** Transparent Ethernet Bridging (RFC 1701): the GRE payload is an Ethernet frame (Linux gretap). */
export const GRE_PROTO_ETHERNET = 0x6558;

const FLAG_CHECKSUM = 0x8000; // bit 0, C (RFC 2784)
const FLAG_KEY = 0x2000; // bit 2, K (RFC 2890)
const FLAG_SEQUENCE = 0x1000; // bit 3, S (RFC 2890)
// RFC 2784 §2.5.1: bits 1-5 non-zero MUST be discarded by a receiver that does not implement
// RFC 1701 (routing R, strict route s, recursion control); RFC 2890 gives bits 2 and 3 back as K
// and S. Bits 6-12 "MUST be ignored on receipt" (§2.5), so they are not checked.
const FLAGS_DISCARD = 0x4000 | 0x0800 | 0x0400;
const VERSION_MASK = 0x0007;

/** A decoded GRE header (RFC 2784 + RFC 2890); offsets are absolute into the decoded buffer. */
export interface GreHeader {
  ok: true;
  checksumPresent: boolean;
  keyPresent: boolean;
  sequencePresent: boolean;
  /** The 32-bit key when K is set (unsigned). */
  key?: number;
  /** The 32-bit sequence number when S is set (unsigned). */
  sequence?: number;
  protocolType: number;
  headerLength: number;
  payloadOffset: number;
  payloadLength: number;
}

/**
 * Decodes a GRE header at [offset, offset+length), where the window is the whole GRE packet (the
 * outer IP payload, or the UDP payload with FOU). Version ≠ 0 → 'bad-version'; bits 1, 4 or 5 set
 * → 'reserved-bits'; with C set the checksum over header+payload must verify.
 */
export function decodeGre(
  buf: Uint8Array,
  offset = 0,
  length: number = buf.length - offset,
): GreHeader | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < 4) return decodeError('truncated');
  const flags = read16(buf, offset);
  if ((flags & VERSION_MASK) !== 0) return decodeError('bad-version');
  if ((flags & FLAGS_DISCARD) !== 0) return decodeError('reserved-bits');
  const checksumPresent = (flags & FLAG_CHECKSUM) !== 0;
  const keyPresent = (flags & FLAG_KEY) !== 0;
  const sequencePresent = (flags & FLAG_SEQUENCE) !== 0;
  const headerLength = 4 + (checksumPresent ? 4 : 0) + (keyPresent ? 4 : 0) + (sequencePresent ? 4 : 0);
  if (headerLength > length) return decodeError('truncated');
  let p = offset + 4;
  if (checksumPresent) {
    if (internetChecksum(buf, offset, length) !== 0) return decodeError('bad-checksum');
    p += 4;
  }
  let key: number | undefined;
  if (keyPresent) {
    key = read32(buf, p);
    p += 4;
  }
  const sequence = sequencePresent ? read32(buf, p) : undefined;
  return {
    ok: true,
    checksumPresent,
    keyPresent,
    sequencePresent,
    key,
    sequence,
    protocolType: read16(buf, offset + 2),
    headerLength,
    payloadOffset: offset + headerLength,
    payloadLength: length - headerLength,
  };
}

/** Which optional GRE fields are present. */
export interface GreOptionalFields {
  checksum?: boolean;
  key?: boolean;
  sequence?: boolean;
}

/** GRE header length: 4, plus 4 each for checksum, key and sequence. */
export function greHeaderLength(fields: GreOptionalFields): number {
  return 4 + (fields.checksum ? 4 : 0) + (fields.key ? 4 : 0) + (fields.sequence ? 4 : 0);
}

/** Fields of a GRE header written by encodeGreHeader. */
export interface GreHeaderFields {
  protocolType: number;
  key?: number;
  sequence?: number;
  checksum?: boolean;
}

/**
 * Writes a GRE header at `offset` in front of a payload of `payloadLength` bytes that is ALREADY
 * in place at offset + headerLength (so the optional checksum covers header+payload without a
 * copy). Returns the header length.
 */
export function encodeGreHeader(
  target: Uint8Array,
  offset: number,
  fields: GreHeaderFields,
  payloadLength: number,
): number {
  const hasKey = fields.key !== undefined;
  const hasSequence = fields.sequence !== undefined;
  const hasChecksum = fields.checksum === true;
  const headerLength = 4 + (hasChecksum ? 4 : 0) + (hasKey ? 4 : 0) + (hasSequence ? 4 : 0);
  const end = offset + headerLength + (hasChecksum ? payloadLength : 0);
  if (offset < 0 || end > target.length) {
    throw new RangeError(`GRE header${hasChecksum ? ' and payload' : ''} do not fit at offset ${offset} of a ${target.length}-byte buffer`);
  }
  write16(target, offset, (hasChecksum ? FLAG_CHECKSUM : 0) | (hasKey ? FLAG_KEY : 0) | (hasSequence ? FLAG_SEQUENCE : 0));
  write16(target, offset + 2, fields.protocolType);
  let p = offset + 4;
  if (hasChecksum) {
    write32(target, p, 0);
    p += 4;
  }
  if (hasKey) {
    write32(target, p, fields.key!);
    p += 4;
  }
  if (hasSequence) write32(target, p, fields.sequence!);
  if (hasChecksum) write16(target, offset + 4, internetChecksum(target, offset, headerLength + payloadLength));
  return headerLength;
}
