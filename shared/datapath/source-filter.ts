import { TunnelError } from '../errors.js';
import { canonicalPrefix, parseIpPrefix, prefixMask } from '../net/ip-prefix.js';

/** How many prefixes one tunnel may accept sources from (a member's own /30 ends plus its routed prefixes). */
const MAX_SOURCE_PREFIXES = 4096;

/** Bytes per IPv6 entry of {@link SourceTables.v6}: the network, then the mask. */
const SOURCE6_ENTRY_BYTES = 32;

/** The filter as flat tables, the shape the native fast route takes. */
interface SourceTables {
  /** Pairs of (network, mask), IPv4 as unsigned 32-bit numbers. */
  readonly v4: Uint32Array;
  /** 32-byte entries: 16 bytes of network, 16 of mask. */
  readonly v6: Uint8Array;
}

/**
 * Which inner source addresses a tunnel accepts from its remote (BCP 38 at a hub's ingress). An
 * IPv6 packet from a link-local (fe80::/10) or the unspecified source always passes: routing
 * protocols (OSPFv3 hellos, neighbour discovery, MLD) speak from those, and no router forwards
 * them beyond the link, so they cannot carry a spoofed address anywhere else.
 */
export class SourceFilter {
  /** The accepted prefixes, canonical. */
  readonly prefixes: readonly string[];
  readonly tables: SourceTables;

  constructor(prefixes: readonly string[]) {
    if (!Array.isArray(prefixes) || prefixes.length > MAX_SOURCE_PREFIXES) {
      throw new TunnelError('ERR_INVALID_ARGUMENT', `sources must be an array of at most ${MAX_SOURCE_PREFIXES} prefixes`);
    }
    const parsed = prefixes.map((text) => parseIpPrefix(text));
    this.prefixes = parsed.map((_, i) => canonicalPrefix(prefixes[i]!));
    const v4 = parsed.filter((p) => p.family === 4);
    const v6 = parsed.filter((p) => p.family === 6);
    const table4 = new Uint32Array(v4.length * 2);
    v4.forEach((prefix, i) => {
      table4[i * 2] = Number(prefix.network);
      table4[i * 2 + 1] = Number(prefixMask(4, prefix.length));
    });
    const table6 = new Uint8Array(v6.length * SOURCE6_ENTRY_BYTES);
    v6.forEach((prefix, i) => {
      writeBigint16(table6, i * SOURCE6_ENTRY_BYTES, prefix.network);
      writeBigint16(table6, i * SOURCE6_ENTRY_BYTES + 16, prefixMask(6, prefix.length));
    });
    this.tables = { v4: table4, v6: table6 };
  }

  /** True when the inner packet at `offset` (of IP version `version`, length already checked) may enter. */
  allows(data: Uint8Array, offset: number, version: 4 | 6): boolean {
    if (version === 4) {
      const source = ((data[offset + 12]! << 24) | (data[offset + 13]! << 16) | (data[offset + 14]! << 8) | data[offset + 15]!) >>> 0;
      const table = this.tables.v4;
      for (let i = 0; i < table.length; i += 2) {
        if (((source & table[i + 1]!) >>> 0) === table[i]) return true;
      }
      return false;
    }
    const source = offset + 8;
    if (isLinkScopedSource(data, source)) return true;
    const table = this.tables.v6;
    for (let entry = 0; entry < table.length; entry += SOURCE6_ENTRY_BYTES) {
      let match = true;
      for (let b = 0; b < 16 && match; b++) match = (data[source + b]! & table[entry + 16 + b]!) === table[entry + b];
      if (match) return true;
    }
    return false;
  }
}

/** fe80::/10 or :: (what neighbour discovery, MLD and OSPFv3 send from). */
function isLinkScopedSource(data: Uint8Array, at: number): boolean {
  if (data[at] === 0xfe && (data[at + 1]! & 0xc0) === 0x80) return true;
  for (let b = 0; b < 16; b++) if (data[at + b] !== 0) return false;
  return true;
}

function writeBigint16(out: Uint8Array, at: number, value: bigint): void {
  for (let b = 15; b >= 0; b--) {
    out[at + b] = Number(value & 0xffn);
    value >>= 8n;
  }
}
