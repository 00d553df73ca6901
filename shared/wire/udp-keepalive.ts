import { read32, write32 } from './big-endian.js';
import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';

/**
 * The body of the datapath's UDP-path keepalive (FOU and GUE), 16 bytes:
 * magic "TKAL" | kind (1 probe, 2 echo) | 3 reserved zero bytes | sequence u32 | nonce u32.
 * A probe's sequence grows by one per interval and its nonce is random per tunnel, so no two
 * keepalives look alike to a NAT or a replaying middlebox; an echo repeats the probe's sequence
 * and nonce so the sender can match it. FOU frames it as GRE with protocol type 0 (what a Cisco
 * keepalive reply uses and a Linux GRE receiver drops); GUE as a control message of type
 * GUE_KEEPALIVE_CTYPE (Linux drops every GUE control message).
 */
export const UDP_KEEPALIVE_LENGTH = 16;

/** GUE control type of a keepalive (unassigned in draft-ietf-intarea-gue-09). */
export const GUE_KEEPALIVE_CTYPE = 1;

/** A probe asks for an echo; an echo answers one. */
export type UdpKeepaliveKind = 'probe' | 'echo';

/** A decoded keepalive body. */
export interface UdpKeepalive {
  ok: true;
  kind: UdpKeepaliveKind;
  sequence: number;
  nonce: number;
}

const MAGIC = 0x544b414c; // "TKAL"
const KIND_PROBE = 1;
const KIND_ECHO = 2;

/** Writes a keepalive body at `offset`; returns UDP_KEEPALIVE_LENGTH. */
export function encodeUdpKeepalive(
  target: Uint8Array,
  offset: number,
  fields: { kind: UdpKeepaliveKind; sequence: number; nonce: number },
): number {
  if (offset < 0 || offset + UDP_KEEPALIVE_LENGTH > target.length) {
    throw new RangeError(`keepalive does not fit at offset ${offset} of a ${target.length}-byte buffer`);
  }
  write32(target, offset, MAGIC);
  target[offset + 4] = fields.kind === 'probe' ? KIND_PROBE : KIND_ECHO;
  target[offset + 5] = 0;
  target[offset + 6] = 0;
  target[offset + 7] = 0;
  write32(target, offset + 8, fields.sequence >>> 0);
  write32(target, offset + 12, fields.nonce >>> 0);
  return UDP_KEEPALIVE_LENGTH;
}

/** Decodes a keepalive body at [offset, offset+length); anything else is 'not-keepalive'. */
export function decodeUdpKeepalive(buf: Uint8Array, offset: number, length: number): UdpKeepalive | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < UDP_KEEPALIVE_LENGTH) return decodeError('truncated');
  if (read32(buf, offset) !== MAGIC) return decodeError('not-keepalive');
  const kind = buf[offset + 4];
  if ((kind !== KIND_PROBE && kind !== KIND_ECHO) || buf[offset + 5] !== 0 || buf[offset + 6] !== 0 || buf[offset + 7] !== 0) {
    return decodeError('not-keepalive');
  }
  return { ok: true, kind: kind === KIND_PROBE ? 'probe' : 'echo', sequence: read32(buf, offset + 8), nonce: read32(buf, offset + 12) };
}
