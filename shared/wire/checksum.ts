/**
 * Ones' complement sum (RFC 1071) of [offset, offset+length), folded to 16 bits and NOT
 * complemented, so partial sums (pseudo-headers, split buffers at even boundaries) can be chained
 * through `initial`.
 */
export function onesComplementSum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  const end = offset + length;
  const evenEnd = end - (length & 1);
  let i = offset;
  // Fold every 2^15 words at most so the running sum stays a small integer (fast SMI path).
  while (i < evenEnd) {
    const chunkEnd = Math.min(evenEnd, i + 65534);
    for (; i < chunkEnd; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (length & 1) sum += buf[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
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
