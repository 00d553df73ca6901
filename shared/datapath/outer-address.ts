import ipaddr from 'ipaddr.js';
import { TunnelError } from '../errors.js';
import { formatIpv4Address, isIpv4Address, parseIpv4Address } from '../net/ipv4-address.js';

/**
 * Outer addresses as the hot paths key them: a number for both families, so demultiplexing
 * tables, bindings and counters need no second shape. An IPv4 address is its unsigned 32-bit
 * value (below 2^32); an IPv6 address gets a number from 2^32 up, given out once per distinct
 * address for the life of the process (interned). Addresses are interned from specs and from
 * verified hellos only; a packet from an IPv6 address nobody named is looked up, never added, so
 * spoofed sources cannot grow the table.
 */
export type OuterKey = number;

/** The key of "no IPv6 address we know": matches no tunnel. */
export const UNKNOWN_OUTER_KEY = -1;

const FIRST_IPV6_KEY = 2 ** 32;

const keysByText = new Map<string, OuterKey>();
const bytesByKey: Uint8Array[] = [];
const textByKey: string[] = [];
/** Hash of the 16 bytes → keys with that hash, so a lookup from packet bytes allocates nothing. */
const keysByHash = new Map<number, OuterKey[]>();

/** The family of an outer address's text, or null when it is neither. */
export function outerFamilyOf(text: string): 4 | 6 | null {
  if (typeof text !== 'string') return null;
  if (isIpv4Address(text)) return 4;
  return !text.includes('%') && ipaddr.IPv6.isValid(text) ? 6 : null;
}

/** True for a key of an IPv6 address. */
export function isIpv6Key(key: OuterKey): boolean {
  return key >= FIRST_IPV6_KEY;
}

/** The canonical text of an IPv6 address (RFC 5952), or the IPv4 text as it is. */
export function canonicalOuterAddress(text: string): string {
  return outerFamilyOf(text) === 6 ? ipaddr.IPv6.parse(text).toRFC5952String() : text;
}

/** The key of an address given as text (interning an IPv6 address). ERR_INVALID_ADDRESS otherwise. */
export function outerKeyOf(text: string): OuterKey {
  const family = outerFamilyOf(text);
  if (family === 4) return parseIpv4Address(text);
  if (family === 6) return intern(Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray()));
  throw new TunnelError('ERR_INVALID_ADDRESS', `${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
}

/** The key of the 16 IPv6 bytes at `offset`, interning them: only for addresses that proved themselves. */
export function internIpv6Key(bytes: Uint8Array, offset: number): OuterKey {
  return findIpv6Key(bytes, offset) ?? intern(bytes.slice(offset, offset + 16));
}

/** The key of the 16 IPv6 bytes at `offset` if the address was ever interned; allocates nothing. */
export function findIpv6Key(bytes: Uint8Array, offset: number): OuterKey | undefined {
  const candidates = keysByHash.get(hashOf(bytes, offset));
  if (candidates === undefined) return undefined;
  for (const key of candidates) {
    const known = bytesByKey[key - FIRST_IPV6_KEY]!;
    let same = true;
    for (let i = 0; i < 16 && same; i++) same = known[i] === bytes[offset + i];
    if (same) return key;
  }
  return undefined;
}

/** The 16 bytes of an IPv6 key (do not modify). */
export function ipv6KeyBytes(key: OuterKey): Uint8Array {
  const bytes = bytesByKey[key - FIRST_IPV6_KEY];
  if (bytes === undefined) throw new TunnelError('ERR_INTERNAL', `no IPv6 address has key ${key}`);
  return bytes;
}

/** The text of a key: dotted quad, or RFC 5952 IPv6. */
export function formatOuterKey(key: OuterKey): string {
  if (!isIpv6Key(key)) return formatIpv4Address(key);
  return textByKey[key - FIRST_IPV6_KEY] ?? '::';
}

function intern(bytes: Uint8Array): OuterKey {
  const text = (ipaddr.fromByteArray(Array.from(bytes)) as ipaddr.IPv6).toRFC5952String();
  const known = keysByText.get(text);
  if (known !== undefined) return known;
  const key = FIRST_IPV6_KEY + bytesByKey.length;
  bytesByKey.push(bytes);
  textByKey.push(text);
  keysByText.set(text, key);
  const hash = hashOf(bytes, 0);
  const bucket = keysByHash.get(hash);
  if (bucket === undefined) keysByHash.set(hash, [key]);
  else bucket.push(key);
  return key;
}

function hashOf(bytes: Uint8Array, offset: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < 16; i++) hash = Math.imul(hash ^ bytes[offset + i]!, 0x01000193);
  return hash >>> 0;
}
