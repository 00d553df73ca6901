import { read16 } from './big-endian.js';
import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';
import { decodeGre, encodeGreHeader, GRE_PROTO_IPV4, GRE_PROTO_IPV6, greHeaderLength, type GreHeader } from './gre.js';
import { IPPROTO_GRE } from './ip-protocols.js';
import { decodeIpv4, encodeIpv4Header, IPV4_HEADER_LENGTH } from './ipv4.js';
import { decodeIpv6, encodeIpv6Header, IPV6_HEADER_LENGTH } from './ipv6.js';

/** GRE protocol type of a keepalive's inner GRE header (Cisco convention). */
export const GRE_PROTO_KEEPALIVE = 0;

// The inner packet crosses the peer's forwarding path once; 255 as Cisco sends it.
const KEEPALIVE_INNER_TTL = 255;

/** Addresses (unsigned 32-bit) and optional key of a GRE keepalive. */
export interface GreKeepaliveFields {
  /** This end's outer address: the inner packet's destination. */
  local: number;
  /** The peer's outer address: where the keepalive is sent and the inner packet's source. */
  remote: number;
  /** The tunnel key, carried in both GRE headers so the returning packet demultiplexes. */
  key?: number;
}

/** Length of what buildGreKeepalive writes: GRE + inner IPv4 20 + inner GRE. */
export function greKeepaliveLength(keyed: boolean): number {
  return 2 * greHeaderLength({ key: keyed }) + IPV4_HEADER_LENGTH;
}

/**
 * Builds a Cisco-style GRE keepalive as the payload of a raw protocol-47 socket toward `remote`:
 * GRE (type 0x0800) | inner IPv4 remote → local, protocol 47 | inner GRE (type 0). The peer
 * decapsulates it and forwards the inner packet, which comes back to us as a GRE packet of type 0
 * (see isGreKeepaliveReply). Returns the length written.
 */
export function buildGreKeepalive(target: Uint8Array, offset: number, fields: GreKeepaliveFields): number {
  const greLength = greHeaderLength({ key: fields.key !== undefined });
  const total = 2 * greLength + IPV4_HEADER_LENGTH;
  if (offset < 0 || offset + total > target.length) {
    throw new RangeError(`GRE keepalive (${total} bytes) does not fit at offset ${offset} of a ${target.length}-byte buffer`);
  }
  encodeGreHeader(target, offset, { protocolType: GRE_PROTO_IPV4, key: fields.key }, 0);
  encodeIpv4Header(target, offset + greLength, {
    totalLength: IPV4_HEADER_LENGTH + greLength,
    ttl: KEEPALIVE_INNER_TTL,
    protocol: IPPROTO_GRE,
    src: fields.remote,
    dst: fields.local,
  });
  encodeGreHeader(target, offset + greLength + IPV4_HEADER_LENGTH, { protocolType: GRE_PROTO_KEEPALIVE, key: fields.key }, 0);
  return total;
}

/**
 * True when a GRE packet received from a peer is a keepalive coming home: our own keepalive,
 * reflected by the peer, arrives as GRE with protocol type 0 (a liveness proof, not data).
 */
export function isGreKeepaliveReply(gre: GreHeader): boolean {
  return gre.protocolType === GRE_PROTO_KEEPALIVE;
}

/** A peer's keepalive found inside a GRE payload, to be sent back toward `dst`. */
export interface GreKeepalive {
  ok: true;
  /** Inner source: the address that sent the keepalive's outer packet is expected to be `dst`. */
  src: number;
  /** Inner destination: where the reflected packet goes (should be the peer's outer address). */
  dst: number;
  /** Key of the inner GRE header, when present. */
  key?: number;
  /** The whole inner IPv4 packet (for a header-including raw socket). */
  packetOffset: number;
  packetLength: number;
  /** The inner GRE packet alone (for a plain protocol-47 raw socket sending to `dst`). */
  greOffset: number;
  greLength: number;
}

/**
 * Recognises a peer's keepalive in the payload of a GRE packet of type 0x0800 at
 * [offset, offset+length): an IPv4 packet (checksum verified, since it is sent on as is) of
 * protocol 47 whose GRE header has protocol type 0. Plain data returns 'not-keepalive' after a
 * two-byte look. The engine must reflect only when `dst` is the tunnel's own remote address and
 * `src` its local one, or a forged keepalive would aim its packets at a third party.
 */
export function decodeGreKeepalive(buf: Uint8Array, offset: number, length: number): GreKeepalive | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < IPV4_HEADER_LENGTH + 4 || buf[offset]! >>> 4 !== 4 || buf[offset + 9] !== IPPROTO_GRE) {
    return decodeError('not-keepalive');
  }
  const ip = decodeIpv4(buf, offset, length);
  if (!ip.ok) return ip;
  if (ip.fragmentOffset !== 0 || ip.moreFragments) return decodeError('fragmented');
  if (ip.payloadLength < 4 || read16(buf, ip.payloadOffset + 2) !== GRE_PROTO_KEEPALIVE) return decodeError('not-keepalive');
  const gre = decodeGre(buf, ip.payloadOffset, ip.payloadLength);
  if (!gre.ok) return gre;
  return {
    ok: true,
    src: ip.src,
    dst: ip.dst,
    key: gre.key,
    packetOffset: offset,
    packetLength: ip.totalLength,
    greOffset: ip.payloadOffset,
    greLength: ip.payloadLength,
  };
}

/** Addresses (16 bytes each) and optional key of a GRE keepalive over an IPv6 path. */
export interface GreKeepalive6Fields {
  local: Uint8Array;
  remote: Uint8Array;
  key?: number;
}

/** Length of what buildGreKeepalive6 writes: GRE + inner IPv6 40 + inner GRE. */
export function greKeepalive6Length(keyed: boolean): number {
  return 2 * greHeaderLength({ key: keyed }) + IPV6_HEADER_LENGTH;
}

/**
 * The IPv6 form of the Cisco keepalive, for a GRE tunnel over IPv6 (Linux ip6gre forwards it the
 * same way): GRE (type 0x86DD) | inner IPv6 remote → local, next header 47 | inner GRE (type 0).
 * Returns the length written.
 */
export function buildGreKeepalive6(target: Uint8Array, offset: number, fields: GreKeepalive6Fields): number {
  const greLength = greHeaderLength({ key: fields.key !== undefined });
  const total = 2 * greLength + IPV6_HEADER_LENGTH;
  if (offset < 0 || offset + total > target.length) {
    throw new RangeError(`GRE keepalive (${total} bytes) does not fit at offset ${offset} of a ${target.length}-byte buffer`);
  }
  encodeGreHeader(target, offset, { protocolType: GRE_PROTO_IPV6, key: fields.key }, 0);
  encodeIpv6Header(target, offset + greLength, {
    payloadLength: greLength,
    nextHeader: IPPROTO_GRE,
    hopLimit: KEEPALIVE_INNER_TTL,
    src: fields.remote,
    dst: fields.local,
  });
  encodeGreHeader(target, offset + greLength + IPV6_HEADER_LENGTH, { protocolType: GRE_PROTO_KEEPALIVE, key: fields.key }, 0);
  return total;
}

/** A peer's IPv6 keepalive found inside a GRE payload; addresses are offsets of 16 bytes. */
export interface GreKeepalive6 {
  ok: true;
  srcOffset: number;
  dstOffset: number;
  key?: number;
  greOffset: number;
  greLength: number;
}

/**
 * Recognises a peer's keepalive in the payload of a GRE packet of type 0x86DD: an IPv6 packet with
 * next header 47 whose GRE header has protocol type 0. As with IPv4, reflect only when the inner
 * source is our local address and the destination the tunnel's own remote.
 */
export function decodeGreKeepalive6(buf: Uint8Array, offset: number, length: number): GreKeepalive6 | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (length < IPV6_HEADER_LENGTH + 4 || buf[offset]! >>> 4 !== 6 || buf[offset + 6] !== IPPROTO_GRE) {
    return decodeError('not-keepalive');
  }
  const ip = decodeIpv6(buf, offset, length);
  if (!ip.ok) return ip;
  if (ip.payloadLength < 4 || read16(buf, ip.payloadOffset + 2) !== GRE_PROTO_KEEPALIVE) return decodeError('not-keepalive');
  const gre = decodeGre(buf, ip.payloadOffset, ip.payloadLength);
  if (!gre.ok) return gre;
  return { ok: true, srcOffset: ip.srcOffset, dstOffset: ip.dstOffset, key: gre.key, greOffset: ip.payloadOffset, greLength: ip.payloadLength };
}
