/**
 * Ones' complement sum (RFC 1071) of [offset, offset+length), folded to 16 bits and NOT
 * complemented, so partial sums (pseudo-headers, split buffers at even boundaries) can be chained
 * through `initial`.
 */
export function onesComplementSum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  // Sum high and low bytes of the 16-bit words separately (Σ word = 256·Σ high + Σ low): fewer
  // operations per byte than assembling words, and both sums stay small integers up to 8 MB.
  let high = 0;
  let low = 0;
  const end = offset + length;
  const end8 = offset + (length & ~7);
  let i = offset;
  for (; i < end8; i += 8) {
    high += buf[i]! + buf[i + 2]! + buf[i + 4]! + buf[i + 6]!;
    low += buf[i + 1]! + buf[i + 3]! + buf[i + 5]! + buf[i + 7]!;
  }
  for (; i + 1 < end; i += 2) {
    high += buf[i]!;
    low += buf[i + 1]!;
  }
  if (i < end) high += buf[i]!;
  // high·256 + low + initial can exceed 2^31: fold with arithmetic, not 32-bit bit operations.
  let sum = high * 256 + low + initial;
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The Internet checksum (RFC 1071) of [offset, offset+length): the 16-bit ones' complement of the
 * ones' complement sum, plus `initial` (an uncomplemented partial sum, e.g. a pseudo-header).
 * Computed over data that includes a correct checksum field, the result is 0.
 */
export function internetChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  return ~onesComplementSum(buf, offset, length, initial) & 0xffff;
}

/**
 * Incremental checksum update when one 16-bit word changes from `oldWord` to `newWord`
 * (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')), avoiding a pass over the whole packet.
 */
export function updateChecksum16(oldChecksum: number, oldWord: number, newWord: number): number {
  let sum = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
