import { parseIpPrefix, type IpPrefix } from '../net/ip-prefix.js';

const IPV4_DST = 16;
const IPV6_DST = 24;

/**
 * Which owner (a tunnel on a shared device) an inner packet's destination belongs to: the longest
 * prefix holding it. The JS side of the native shared-device table (native/src/shared-device-routes.*),
 * for the packets that table leaves to JS: one map per prefix length in use, longest first.
 */
export class DestinationLookup<T> {
  readonly #v4 = new Map<number, Map<number, T>>();
  readonly #v6 = new Map<number, Map<bigint, T>>();
  #lengths4: number[] = [];
  #lengths6: number[] = [];
  readonly #owned = new Map<T, IpPrefix[]>();

  /** Makes `owner` hold exactly `prefixes` (canonical CIDRs); a prefix another owner held moves to it. ERR_INVALID_CIDR leaves the table as it was. */
  set(owner: T, prefixes: readonly string[]): void {
    const parsed = prefixes.map((text) => parseIpPrefix(text));
    this.#erase(owner);
    for (const prefix of parsed) this.#table(prefix).set(prefix.family === 4 ? Number(prefix.network) as never : prefix.network as never, owner);
    this.#owned.set(owner, parsed);
    this.#refresh();
  }

  /** Takes out every prefix `owner` holds. */
  remove(owner: T): void {
    this.#erase(owner);
    this.#refresh();
  }

  /** The owner of the longest prefix holding the destination of the IP packet at data[offset, offset + length), or null. */
  lookup(data: Uint8Array, offset: number, length: number): T | null {
    const version = length > 0 ? data[offset]! >>> 4 : 0;
    if (version === 4 && length >= 20) {
      const at = offset + IPV4_DST;
      const destination = ((data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!) >>> 0;
      for (const bits of this.#lengths4) {
        const mask = bits === 0 ? 0 : (0xffff_ffff << (32 - bits)) >>> 0;
        const found = this.#v4.get(bits)!.get((destination & mask) >>> 0);
        if (found !== undefined) return found;
      }
      return null;
    }
    if (version === 6 && length >= 40) {
      let destination = 0n;
      for (let b = 0; b < 16; b++) destination = (destination << 8n) | BigInt(data[offset + IPV6_DST + b]!);
      for (const bits of this.#lengths6) {
        const mask = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
        const found = this.#v6.get(bits)!.get(destination & mask);
        if (found !== undefined) return found;
      }
    }
    return null;
  }

  #table(prefix: IpPrefix): Map<number | bigint, T> {
    const tables = (prefix.family === 4 ? this.#v4 : this.#v6) as Map<number, Map<number | bigint, T>>;
    let table = tables.get(prefix.length);
    if (table === undefined) {
      table = new Map();
      tables.set(prefix.length, table);
    }
    return table;
  }

  #erase(owner: T): void {
    for (const prefix of this.#owned.get(owner) ?? []) {
      const table = this.#table(prefix);
      const key = prefix.family === 4 ? Number(prefix.network) : prefix.network;
      // Only entries still its own: another owner may have taken a prefix over since.
      if (table.get(key) === owner) table.delete(key);
    }
    this.#owned.delete(owner);
  }

  #refresh(): void {
    for (const tables of [this.#v4, this.#v6] as Map<number, Map<unknown, T>>[]) {
      for (const [bits, table] of tables) if (table.size === 0) tables.delete(bits);
    }
    this.#lengths4 = [...this.#v4.keys()].sort((a, b) => b - a);
    this.#lengths6 = [...this.#v6.keys()].sort((a, b) => b - a);
  }
}
