// Inline-friendly network-order accessors. Callers check bounds first; these never do, so the
// per-packet path pays for one length check per header instead of one per field.

/** Reads an unsigned 16-bit big-endian value at `o` (caller guarantees o+1 is in bounds). */
export function read16(buf: Uint8Array, o: number): number {
  return (buf[o]! << 8) | buf[o + 1]!;
}

/** Reads an unsigned 32-bit big-endian value at `o` (caller guarantees o+3 is in bounds). */
export function read32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

/** Writes `v` as an unsigned 16-bit big-endian value at `o`. */
export function write16(buf: Uint8Array, o: number, v: number): void {
  buf[o] = (v >>> 8) & 0xff;
  buf[o + 1] = v & 0xff;
}

/** Writes `v` as an unsigned 32-bit big-endian value at `o`. */
export function write32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = (v >>> 24) & 0xff;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}
