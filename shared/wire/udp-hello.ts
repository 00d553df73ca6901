import { createHmac, timingSafeEqual } from 'node:crypto';
import { read16, read32, write16, write32 } from './big-endian.js';
import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';
import { decodeGre, encodeGreHeader } from './gre.js';
import { GRE_PROTO_KEEPALIVE } from './gre-keepalive.js';
import { decodeGue, encodeGueHeader } from './gue.js';

/**
 * The authenticated UDP hello of FOU/GUE paths, 44 bytes:
 *
 *   0 magic "THLO" | 4 kind (1 hello, 2 ack) | 5 flags (bit 0: view present) | 6 reserved u16 = 0
 *   8 binding id u32 | 12 counter u64 | 20 view address u32 | 24 view port u16 | 26 reserved u16 = 0
 *   28 MAC: HMAC-SHA256(session key, bytes 0..27) truncated to 16 bytes
 *
 * A member sends `hello` from its tunnel's UDP socket, so it crosses the NAT and names the mapping;
 * its view is the address:port it believes it has. The hub answers a verified hello with `ack`,
 * echoing the counter, its view being the address:port the hello came from (what the NAT made of
 * it). The kind is under the MAC, so a hello cannot pass for an ack or the reverse. FOU frames the
 * body as GRE with protocol type 0 (the key, if the tunnel has one, in the GRE header), like the
 * UDP keepalive, which it tells apart by its magic; GUE as a control message of type
 * GUE_HELLO_CTYPE. Linux drops both framings, so a kernel peer never sees one as data.
 */
export const UDP_HELLO_LENGTH = 44;

/** Bytes of HMAC-SHA256 kept (128 bits). */
export const UDP_HELLO_MAC_LENGTH = 16;

/** Bytes covered by the MAC: everything in front of it. */
export const UDP_HELLO_SIGNED_LENGTH = UDP_HELLO_LENGTH - UDP_HELLO_MAC_LENGTH;

/** Shortest session key accepted (bytes). */
export const UDP_HELLO_MIN_KEY_LENGTH = 16;

/** Longest session key accepted (bytes): the HMAC-SHA256 block size; longer keys get hashed anyway. */
export const UDP_HELLO_MAX_KEY_LENGTH = 64;

/** GUE control type of a hello (unassigned in draft-ietf-intarea-gue-09; 1 is the keepalive). */
export const GUE_HELLO_CTYPE = 2;

/** Largest counter value (the field is 64 bits, unsigned). */
export const UDP_HELLO_MAX_COUNTER = (1n << 64n) - 1n;

/** `hello` goes member → hub; `ack` answers one, hub → member. */
export type UdpHelloKind = 'hello' | 'ack';

/** What a hello carries besides its MAC. */
export interface UdpHelloFields {
  kind: UdpHelloKind;
  /** The tunnel's binding id, handed to both ends by the hub with the session key. */
  bindingId: number;
  /** Per session, strictly increasing; an ack repeats the hello's. */
  counter: bigint;
  /** hello: the sender's own idea of its address:port; ack: where the hello came from. Optional. */
  view: { address: number; port: number } | null;
}

/** A decoded hello body; `macOffset` is absolute into the buffer. */
export interface UdpHello extends UdpHelloFields {
  ok: true;
  macOffset: number;
}

/** Which framing a hello came in: GRE type 0 (fou, with the GRE key if any) or a GUE control message. */
export interface UdpHelloFrame {
  ok: true;
  encap: 'fou' | 'gue';
  /** The GRE key of a fou frame, or null. */
  greKey: number | null;
  /** Where the 44-byte hello body starts, and how many bytes follow the framing. */
  payloadOffset: number;
  payloadLength: number;
}

const MAGIC = 0x54484c4f; // "THLO"
const KIND_HELLO = 1;
const KIND_ACK = 2;
const FLAG_VIEW = 0x01;

/** Checks a session key's length; returns a one-line reason when it is unusable, else null. */
export function udpHelloKeyProblem(key: unknown): string | null {
  if (!(key instanceof Uint8Array)) return 'the session key must be a Buffer';
  if (key.length < UDP_HELLO_MIN_KEY_LENGTH || key.length > UDP_HELLO_MAX_KEY_LENGTH) {
    return `the session key must be ${UDP_HELLO_MIN_KEY_LENGTH}..${UDP_HELLO_MAX_KEY_LENGTH} bytes, not ${key.length}`;
  }
  return null;
}

/** True when [offset, offset+length) starts with the hello magic: cheap, before any decoding. */
export function isUdpHelloBody(buf: Uint8Array, offset: number, length: number): boolean {
  return !isBadWindow(buf, offset, length) && length >= 4 && read32(buf, offset) === MAGIC;
}

/**
 * Writes a hello body at `offset` and signs it with `key`; returns UDP_HELLO_LENGTH. A target too
 * small, a counter outside 64 bits or a short key is a caller bug (RangeError).
 */
export function sealUdpHello(target: Uint8Array, offset: number, fields: UdpHelloFields, key: Uint8Array): number {
  if (offset < 0 || offset + UDP_HELLO_LENGTH > target.length) {
    throw new RangeError(`hello does not fit at offset ${offset} of a ${target.length}-byte buffer`);
  }
  if (fields.counter < 0n || fields.counter > UDP_HELLO_MAX_COUNTER) throw new RangeError('hello counter is outside 64 bits');
  const keyProblem = udpHelloKeyProblem(key);
  if (keyProblem !== null) throw new RangeError(keyProblem);
  write32(target, offset, MAGIC);
  target[offset + 4] = fields.kind === 'hello' ? KIND_HELLO : KIND_ACK;
  target[offset + 5] = fields.view === null ? 0 : FLAG_VIEW;
  write16(target, offset + 6, 0);
  write32(target, offset + 8, fields.bindingId >>> 0);
  write32(target, offset + 12, Number(fields.counter >> 32n));
  write32(target, offset + 16, Number(fields.counter & 0xffff_ffffn));
  write32(target, offset + 20, fields.view === null ? 0 : fields.view.address >>> 0);
  write16(target, offset + 24, fields.view === null ? 0 : fields.view.port & 0xffff);
  write16(target, offset + 26, 0);
  const mac = macOf(target, offset, key);
  target.set(mac.subarray(0, UDP_HELLO_MAC_LENGTH), offset + UDP_HELLO_SIGNED_LENGTH);
  return UDP_HELLO_LENGTH;
}

/**
 * Decodes a hello body at [offset, offset+length) without checking its MAC (verifyUdpHelloMac
 * does, with the key the binding id names). Too short is 'truncated'; a wrong magic, an unknown
 * kind or flag, or a non-zero reserved field is 'not-hello'. Bytes after the 44 are ignored.
 */
export function decodeUdpHello(buf: Uint8Array, offset: number, length: number): UdpHello | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < 4) return decodeError('truncated');
  if (read32(buf, offset) !== MAGIC) return decodeError('not-hello');
  if (length < UDP_HELLO_LENGTH) return decodeError('truncated');
  const kind = buf[offset + 4];
  const flags = buf[offset + 5]!;
  if ((kind !== KIND_HELLO && kind !== KIND_ACK) || (flags & ~FLAG_VIEW) !== 0
    || read16(buf, offset + 6) !== 0 || read16(buf, offset + 26) !== 0) {
    return decodeError('not-hello');
  }
  const hasView = (flags & FLAG_VIEW) !== 0;
  const viewAddress = read32(buf, offset + 20);
  const viewPort = read16(buf, offset + 24);
  if (!hasView && (viewAddress !== 0 || viewPort !== 0)) return decodeError('not-hello', 'view bytes without the view flag');
  return {
    ok: true,
    kind: kind === KIND_HELLO ? 'hello' : 'ack',
    bindingId: read32(buf, offset + 8),
    counter: (BigInt(read32(buf, offset + 12)) << 32n) | BigInt(read32(buf, offset + 16)),
    view: hasView ? { address: viewAddress, port: viewPort } : null,
    macOffset: offset + UDP_HELLO_SIGNED_LENGTH,
  };
}

/**
 * True when the 16-byte MAC of the hello body at `offset` (already decoded, so 44 bytes are in
 * bounds) matches `key`. Constant-time comparison: timing tells a forger nothing about the MAC.
 */
export function verifyUdpHelloMac(buf: Uint8Array, offset: number, key: Uint8Array): boolean {
  if (isBadWindow(buf, offset, UDP_HELLO_LENGTH)) return false;
  const expected = macOf(buf, offset, key).subarray(0, UDP_HELLO_MAC_LENGTH);
  const macStart = offset + UDP_HELLO_SIGNED_LENGTH;
  return timingSafeEqual(expected, buf.subarray(macStart, macStart + UDP_HELLO_MAC_LENGTH));
}

/**
 * Finds a hello inside a UDP payload at [offset, offset+length): GRE of protocol type 0 (fou) or
 * a GUE control message of type GUE_HELLO_CTYPE (gue), followed by the hello magic. Anything else
 * is 'not-hello' (or the framing's own decode reason). The body itself is left to decodeUdpHello.
 */
export function decodeUdpHelloFrame(buf: Uint8Array, offset: number, length: number): UdpHelloFrame | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < 4) return decodeError('truncated');
  // GUE control with Hlen 0 starts 0x20 like GRE with only K set; GRE type 0 has 0 in byte 2,
  // a GUE hello has its ctype there, so byte 1 decides which framing to try.
  const gueControl = (buf[offset]! & 0xe0) === 0x20 && buf[offset + 1] === GUE_HELLO_CTYPE;
  if (gueControl) {
    const gue = decodeGue(buf, offset, length);
    if (!gue.ok) return gue;
    if (!gue.control || gue.protocol !== GUE_HELLO_CTYPE) return decodeError('not-hello');
    if (!isUdpHelloBody(buf, gue.payloadOffset, gue.payloadLength)) return decodeError('not-hello');
    return { ok: true, encap: 'gue', greKey: null, payloadOffset: gue.payloadOffset, payloadLength: gue.payloadLength };
  }
  const gre = decodeGre(buf, offset, length);
  if (!gre.ok) return gre;
  if (gre.protocolType !== GRE_PROTO_KEEPALIVE || !isUdpHelloBody(buf, gre.payloadOffset, gre.payloadLength)) {
    return decodeError('not-hello');
  }
  return {
    ok: true,
    encap: 'fou',
    greKey: gre.keyPresent ? gre.key! : null,
    payloadOffset: gre.payloadOffset,
    payloadLength: gre.payloadLength,
  };
}

/**
 * Writes a whole hello as a UDP payload: the framing of `encap` (fou: GRE type 0 with `greKey`
 * when not null; gue: a control message of type GUE_HELLO_CTYPE), then the signed body. Returns
 * the bytes written.
 */
export function sealUdpHelloFrame(
  target: Uint8Array,
  offset: number,
  framing: { encap: 'fou' | 'gue'; greKey: number | null },
  fields: UdpHelloFields,
  key: Uint8Array,
): number {
  const headerLength = framing.encap === 'gue'
    ? encodeGueHeader(target, offset, { control: true, protocol: GUE_HELLO_CTYPE })
    : encodeGreHeader(target, offset, framing.greKey === null
      ? { protocolType: GRE_PROTO_KEEPALIVE }
      : { protocolType: GRE_PROTO_KEEPALIVE, key: framing.greKey }, 0);
  return headerLength + sealUdpHello(target, offset + headerLength, fields, key);
}

function macOf(buf: Uint8Array, offset: number, key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(buf.subarray(offset, offset + UDP_HELLO_SIGNED_LENGTH)).digest();
}
