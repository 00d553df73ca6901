import ipaddr from 'ipaddr.js';

/** Bytes received toward one inner destination since the last drain. */
export interface DestinationCount {
  /** IPv4 dotted, or IPv6 in RFC 5952 form. */
  readonly address: string;
  readonly bytes: number;
}

const SETS = 8;
const WAYS = 2;
const ENTRIES = SETS * WAYS;

/**
 * The JS path's twin of the addon's DestinationTally (native/src/destination-tally.h): bytes of
 * received inner packets per destination, in 16 entries of two ways per set, whatever the number
 * of members. When both ways of a set hold other destinations, the three share the packet's
 * bytes Misra-Gries style, so a count never exceeds the bytes really sent and a destination with
 * more than a third of its set's bytes keeps its entry. A hub drains it about once a second.
 */
export class DestinationTally {
  readonly #versions = new Uint8Array(ENTRIES);
  readonly #addresses = new Uint8Array(ENTRIES * 16);
  readonly #bytes = new Float64Array(ENTRIES);
  #counted = false;

  /** `onFirstCount` runs when a packet is counted first after a drain: an owner of thousands learns which to drain. */
  constructor(private readonly onFirstCount?: () => void) {}

  /** True when some packet was counted since the last drain (a tally to drain at all). */
  get counted(): boolean {
    return this.#counted;
  }

  /** Counts the inner IPv4 or IPv6 packet of `length` bytes at `offset` (its header already checked). */
  count(data: Uint8Array, offset: number, version: 4 | 6, length: number): void {
    const start = offset + (version === 4 ? 16 : 24);
    const size = version === 4 ? 4 : 16;
    if (!this.#counted) {
      this.#counted = true;
      this.onFirstCount?.();
    }
    let hash = 2166136261;
    for (let i = 0; i < size; i++) hash = Math.imul(hash ^ data[start + i]!, 16777619) >>> 0;
    const first = (hash % SETS) * WAYS;
    let empty = -1;
    for (let entry = first; entry < first + WAYS; entry++) {
      if (this.#bytes[entry] === 0) {
        if (empty < 0) empty = entry;
      } else if (this.#versions[entry] === version && this.#sameAddress(entry, data, start, size)) {
        this.#bytes[entry] = this.#bytes[entry]! + length;
        return;
      }
    }
    let left = length;
    if (empty < 0) {
      let share = left;
      for (let entry = first; entry < first + WAYS; entry++) share = Math.min(share, this.#bytes[entry]!);
      for (let entry = first; entry < first + WAYS; entry++) {
        this.#bytes[entry] = this.#bytes[entry]! - share;
        if (this.#bytes[entry] === 0 && empty < 0) empty = entry;
      }
      left -= share;
    }
    if (empty < 0 || left === 0) return;
    this.#versions[empty] = version;
    this.#addresses.fill(0, empty * 16, empty * 16 + 16);
    this.#addresses.set(data.subarray(start, start + size), empty * 16);
    this.#bytes[empty] = left;
  }

  /** The destinations counted since the last drain; the table starts empty again. */
  drain(): DestinationCount[] {
    const counted: DestinationCount[] = [];
    this.#counted = false;
    for (let entry = 0; entry < ENTRIES; entry++) {
      const bytes = this.#bytes[entry]!;
      if (bytes === 0) continue;
      const address = this.#addresses.subarray(entry * 16, entry * 16 + 16);
      counted.push({ address: this.#versions[entry] === 4 ? address.subarray(0, 4).join('.') : ipv6Text(address), bytes });
      this.#bytes[entry] = 0;
    }
    return counted;
  }

  #sameAddress(entry: number, data: Uint8Array, start: number, size: number): boolean {
    const base = entry * 16;
    for (let i = 0; i < size; i++) if (this.#addresses[base + i] !== data[start + i]) return false;
    return true;
  }
}

function ipv6Text(bytes: Uint8Array): string {
  return (ipaddr.fromByteArray(Array.from(bytes)) as ipaddr.IPv6).toRFC5952String();
}
