import { decodeError, isBadWindow, type DecodeError } from './decode-error.js';
import { decodeGre, type GreHeader } from './gre.js';
import { IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6 } from './ip-protocols.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';

/** The IANA UDP port of GRE-in-UDP (RFC 8086). */
export const FOU_GRE_PORT = 4754;

/** The IP protocol a FOU port carries, as in `ip fou add port P ipproto N`. */
export type FouIpproto = 4 | 41 | 47;

/** A decoded FOU datagram: for ipproto 47 the GRE header, else the bare inner IP packet. */
export interface FouPacket {
  ok: true;
  ipproto: FouIpproto;
  /** Present for ipproto 47 only. */
  gre?: GreHeader;
  /** Where the inner packet starts: after the GRE header (47) or the UDP payload itself (4, 41). */
  payloadOffset: number;
  payloadLength: number;
}

/**
 * Decodes a FOU UDP payload at [offset, offset+length). FOU adds no header of its own: Linux
 * `fou_udp_recv` strips the UDP header and hands the rest to the protocol named by the port's
 * `ipproto`, so the wire format of `ip fou add port P ipproto 47` with
 * `ip link add … type gre … encap fou encap-sport auto encap-dport P` is
 * outer IPv4 | UDP (dport P, sport from a flow hash) | GRE header | inner packet — exactly
 * RFC 8086 GRE-in-UDP on port 4754. With `ipproto 4` (`type ipip … encap fou`) the UDP payload is
 * the inner IPv4 packet; with `ipproto 41` (`type sit … encap fou`) it is the inner IPv6 packet.
 * The port, not the payload, says which: the caller passes the port's ipproto.
 */
export function decodeFou(
  buf: Uint8Array,
  offset: number,
  length: number,
  ipproto: FouIpproto,
): FouPacket | DecodeError {
  if (isBadWindow(buf, offset, length)) return decodeError('truncated', 'window outside buffer');
  if (ipproto === IPPROTO_GRE) {
    const gre = decodeGre(buf, offset, length);
    if (!gre.ok) return gre;
    return { ok: true, ipproto, gre, payloadOffset: gre.payloadOffset, payloadLength: gre.payloadLength };
  }
  if (ipproto === IPPROTO_IPIP) {
    // The inner header checksum is the kernel's job once the packet reaches the TUN.
    const inner = decodeIpv4(buf, offset, length, { verifyChecksum: false });
    if (!inner.ok) return inner;
    return { ok: true, ipproto, gre: undefined, payloadOffset: offset, payloadLength: inner.totalLength };
  }
  if (ipproto === IPPROTO_IPV6) {
    const inner = decodeIpv6(buf, offset, length);
    if (!inner.ok) return inner;
    return { ok: true, ipproto, gre: undefined, payloadOffset: offset, payloadLength: 40 + inner.payloadLength };
  }
  return decodeError('unsupported-protocol', 'FOU ipproto must be 4, 41 or 47');
}
