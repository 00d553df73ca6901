import { read32, write16, write32 } from './big-endian.js';
import { internetChecksum, onesComplementSum } from './checksum.js';
import { IPPROTO_ICMPV6 } from './ip-protocols.js';
import { decodeIpv6, IPV6_HEADER_LENGTH } from './ipv6.js';

/** The IPv6 minimum MTU: an ICMPv6 error never exceeds it (RFC 4443 §2.4 (c)). */
export const IPV6_MIN_MTU = 1280;

const ICMPV6_PACKET_TOO_BIG = 2;
const ICMPV6_FIRST_INFORMATIONAL_TYPE = 128;

/** Ones' complement sum of the ICMPv6 pseudo-header (RFC 8200 §8.1) for a message of `length`. */
function pseudoHeaderSum(buf: Uint8Array, addressesOffset: number, length: number): number {
  return onesComplementSum(buf, addressesOffset, 32, (length >>> 16) + (length & 0xffff) + IPPROTO_ICMPV6);
}

/**
 * Builds a complete IPv6 ICMPv6 Packet Too Big (type 2 code 0, RFC 4443 §3.2) answering
 * `original`, quoting as much of it as fits in 1280 bytes, from the 16-byte address at
 * `fromAddress[fromOffset]` to the original source, hop limit 64, checksum over the pseudo-header.
 * Returns its length, or 0 when no error may be sent (original not IPv6, an ICMPv6 error message,
 * or an unspecified/multicast source). A multicast destination is answered: RFC 4443 §2.4 (e.2)
 * makes Packet Too Big the exception so path-MTU discovery works for multicast.
 */
export function buildIcmpv6PacketTooBig(
  target: Uint8Array,
  targetOffset: number,
  original: Uint8Array,
  origOffset: number,
  origLength: number,
  mtu: number,
  fromAddress: Uint8Array,
  fromOffset = 0,
): number {
  const orig = decodeIpv6(original, origOffset, origLength);
  if (!orig.ok) return 0;
  if (original[orig.srcOffset] === 0xff) return 0;
  if ((read32(original, orig.srcOffset) | read32(original, orig.srcOffset + 4) | read32(original, orig.srcOffset + 8) | read32(original, orig.srcOffset + 12)) === 0) {
    return 0;
  }
  // Only an ICMPv6 header right after the fixed header is recognised: walking extension headers
  // to find one hidden behind them is not worth it for packets that are merely too big.
  if (orig.nextHeader === IPPROTO_ICMPV6 && (orig.payloadLength < 1 || original[orig.payloadOffset]! < ICMPV6_FIRST_INFORMATIONAL_TYPE)) {
    return 0;
  }

  const quoteLength = Math.min(IPV6_HEADER_LENGTH + orig.payloadLength, IPV6_MIN_MTU - IPV6_HEADER_LENGTH - 8);
  const icmpLength = 8 + quoteLength;
  const totalLength = IPV6_HEADER_LENGTH + icmpLength;
  if (targetOffset < 0 || targetOffset + totalLength > target.length) {
    throw new RangeError(`ICMPv6 Packet Too Big (${totalLength} bytes) does not fit at offset ${targetOffset} of a ${target.length}-byte buffer`);
  }
  if (fromOffset < 0 || fromOffset + 16 > fromAddress.length) throw new RangeError('fromAddress must hold 16 bytes at fromOffset');
  write32(target, targetOffset, 0x60000000);
  write16(target, targetOffset + 4, icmpLength);
  target[targetOffset + 6] = IPPROTO_ICMPV6;
  target[targetOffset + 7] = 64;
  for (let i = 0; i < 16; i++) {
    target[targetOffset + 8 + i] = fromAddress[fromOffset + i]!;
    target[targetOffset + 24 + i] = original[orig.srcOffset + i]!;
  }
  const icmp = targetOffset + IPV6_HEADER_LENGTH;
  target[icmp] = ICMPV6_PACKET_TOO_BIG;
  target[icmp + 1] = 0;
  write16(target, icmp + 2, 0);
  write32(target, icmp + 4, mtu);
  for (let i = 0; i < quoteLength; i++) target[icmp + 8 + i] = original[origOffset + i]!;
  write16(target, icmp + 2, internetChecksum(target, icmp, icmpLength, pseudoHeaderSum(target, targetOffset + 8, icmpLength)));
  return totalLength;
}
