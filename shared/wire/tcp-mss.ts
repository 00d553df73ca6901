import { read16, write16 } from './big-endian.js';
import { updateChecksum16 } from './checksum.js';
import { IPPROTO_TCP } from './ip-protocols.js';

const TCP_MIN_HEADER = 20;
const TCP_FLAG_SYN = 0x02;
const TCP_OPT_END = 0;
const TCP_OPT_NOP = 1;
const TCP_OPT_MSS = 2;

const swap16 = (v: number): number => ((v & 0xff) << 8) | (v >>> 8);

/** Clamps the MSS option of the TCP segment at [tcp, tcp+tcpLength) in place; true if changed. */
function clampSegment(buf: Uint8Array, tcp: number, tcpLength: number, maxMss: number): boolean {
  if (tcpLength < TCP_MIN_HEADER) return false;
  const dataOffset = (buf[tcp + 12]! >>> 4) << 2;
  if (dataOffset < TCP_MIN_HEADER || dataOffset > tcpLength) return false;
  if ((buf[tcp + 13]! & TCP_FLAG_SYN) === 0) return false;
  const end = tcp + dataOffset;
  let i = tcp + TCP_MIN_HEADER;
  while (i < end) {
    const kind = buf[i]!;
    if (kind === TCP_OPT_END) return false;
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return false;
    const optionLength = buf[i + 1]!;
    if (optionLength < 2 || i + optionLength > end) return false;
    if (kind === TCP_OPT_MSS && optionLength === 4) {
      const mss = read16(buf, i + 2);
      if (mss <= maxMss) return false;
      write16(buf, i + 2, maxMss);
      // The checksum sums 16-bit words aligned to the segment start: an MSS value at an odd
      // offset straddles two words, which in ones' complement equals its byte-swapped value.
      const odd = ((i + 2 - tcp) & 1) === 1;
      const oldWord = odd ? swap16(mss) : mss;
      const newWord = odd ? swap16(maxMss) : maxMss;
      write16(buf, tcp + 16, updateChecksum16(read16(buf, tcp + 16), oldWord, newWord));
      return true;
    }
    i += optionLength;
  }
  return false;
}

/**
 * For an IPv4 (or IPv6 with TCP as the first next header) packet at [offset, offset+length)
 * carrying a TCP SYN whose MSS option exceeds `maxMss`, rewrites the MSS in place and fixes the
 * TCP checksum incrementally (RFC 1624). Returns true if the packet changed. Malformed or
 * non-matching packets are left alone; nothing outside the window is read or written.
 */
export function clampTcpMss(buf: Uint8Array, offset: number, length: number, maxMss: number): boolean {
  if (!(offset >= 0 && length >= 1 && offset + length <= buf.length)) return false;
  const version = buf[offset]! >>> 4;
  if (version === 4) {
    if (length < 20) return false;
    const headerLength = (buf[offset]! & 0x0f) << 2;
    const totalLength = read16(buf, offset + 2);
    if (headerLength < 20 || totalLength < headerLength || totalLength > length) return false;
    if (buf[offset + 9] !== IPPROTO_TCP || (read16(buf, offset + 6) & 0x1fff) !== 0) return false;
    return clampSegment(buf, offset + headerLength, totalLength - headerLength, maxMss);
  }
  if (version === 6) {
    if (length < 40) return false;
    const payloadLength = read16(buf, offset + 4);
    if (40 + payloadLength > length || buf[offset + 6] !== IPPROTO_TCP) return false;
    return clampSegment(buf, offset + 40, payloadLength, maxMss);
  }
  return false;
}
