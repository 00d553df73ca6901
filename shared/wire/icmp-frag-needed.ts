import { write16 } from './big-endian.js';
import { internetChecksum } from './checksum.js';
import { IPPROTO_ICMP } from './ip-protocols.js';
import { decodeIpv4, encodeIpv4Header, IPV4_HEADER_LENGTH } from './ipv4.js';

/** Largest packet buildIcmpFragmentationNeeded writes: IPv4 20 + ICMP 8 + quoted header 60 + 8. */
export const ICMP_FRAG_NEEDED_MAX_LENGTH = IPV4_HEADER_LENGTH + 8 + 60 + 8;

const ICMP_DEST_UNREACHABLE = 3;
const ICMP_CODE_FRAG_NEEDED = 4;
// ICMP types that are themselves error messages (RFC 792): never answered with another error.
const ICMP_ERROR_TYPES = new Set([3, 4, 5, 11, 12]);
// Precedence "internetwork control" (0xc0), as routers mark the ICMP errors they originate.
const TOS_INTERNETWORK_CONTROL = 0xc0;

/** True when RFC 1122 §3.2.2 / RFC 1812 §4.3.2.7 forbid an ICMP error about this source address. */
function isNotAUnicastSource(src: number): boolean {
  const first = src >>> 24;
  return src === 0 || first === 127 || first >= 224;
}

/**
 * Builds a complete IPv4 ICMP "fragmentation needed and DF set" packet (type 3 code 4, next-hop
 * MTU per RFC 1191) answering `original`, quoting its IP header and first 8 payload bytes
 * (RFC 792), from `fromAddress` to the original source, TTL 64, both checksums set. Returns its
 * length, or 0 when no error may be sent (original not IPv4, a non-first fragment, an ICMP error,
 * or a multicast/broadcast/loopback/zero source or a multicast/broadcast destination). `target`
 * must not overlap `original` and needs ICMP_FRAG_NEEDED_MAX_LENGTH bytes at most.
 */
export function buildIcmpFragmentationNeeded(
  target: Uint8Array,
  targetOffset: number,
  original: Uint8Array,
  origOffset: number,
  origLength: number,
  nextHopMtu: number,
  fromAddress: number,
): number {
  const orig = decodeIpv4(original, origOffset, origLength, { verifyChecksum: false });
  if (!orig.ok || orig.fragmentOffset !== 0) return 0;
  if (isNotAUnicastSource(orig.src) || orig.dst >>> 28 === 0xe || orig.dst === 0xffffffff) return 0;
  if (orig.protocol === IPPROTO_ICMP && (orig.payloadLength < 1 || ICMP_ERROR_TYPES.has(original[orig.payloadOffset]!))) return 0;

  const quoteLength = orig.headerLength + Math.min(8, orig.payloadLength);
  const icmpLength = 8 + quoteLength;
  const totalLength = IPV4_HEADER_LENGTH + icmpLength;
  if (targetOffset < 0 || targetOffset + totalLength > target.length) {
    throw new RangeError(`ICMP fragmentation-needed (${totalLength} bytes) does not fit at offset ${targetOffset} of a ${target.length}-byte buffer`);
  }
  encodeIpv4Header(target, targetOffset, {
    tos: TOS_INTERNETWORK_CONTROL,
    totalLength,
    ttl: 64,
    protocol: IPPROTO_ICMP,
    src: fromAddress,
    dst: orig.src,
  });
  const icmp = targetOffset + IPV4_HEADER_LENGTH;
  target[icmp] = ICMP_DEST_UNREACHABLE;
  target[icmp + 1] = ICMP_CODE_FRAG_NEEDED;
  write16(target, icmp + 2, 0);
  write16(target, icmp + 4, 0);
  write16(target, icmp + 6, nextHopMtu);
  for (let i = 0; i < quoteLength; i++) target[icmp + 8 + i] = original[origOffset + i]!;
  write16(target, icmp + 2, internetChecksum(target, icmp, icmpLength));
  return totalLength;
}
