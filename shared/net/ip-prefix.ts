import ipaddr from 'ipaddr.js';
import { TunnelError } from '../errors.js';

/** An IPv4 or IPv6 network: its first address as an unsigned integer and its prefix length. */
export interface IpPrefix {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly length: number;
}

const BITS = { 4: 32, 6: 128 } as const;

/** The netmask of a prefix length in a family, as an unsigned integer. */
export function prefixMask(family: 4 | 6, length: number): bigint {
  const bits = BigInt(BITS[family]);
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(length))) - 1n);
}

/**
 * Parses an IPv4 (strict dotted quad) or IPv6 address into its family and value; zone ids
 * (`fe80::1%eth0`) and legacy IPv4 spellings are refused.
 */
export function parseIpAddress(text: string): { family: 4 | 6; value: bigint } {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return { family: 4, value: bytesToBigint(ipaddr.IPv4.parse(text).toByteArray()) };
  if (!text.includes('%') && ipaddr.IPv6.isValid(text)) return { family: 6, value: bytesToBigint(ipaddr.IPv6.parse(text).toByteArray()) };
  throw new TunnelError('ERR_INVALID_ADDRESS', `"${text}" is not an IPv4 or IPv6 address`);
}

/** Formats an address value of a family (IPv6 in RFC 5952's canonical form). */
export function formatIpAddress(family: 4 | 6, value: bigint): string {
  const bytes: number[] = [];
  for (let i = BITS[family] / 8 - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return family === 4 ? bytes.join('.') : (ipaddr.fromByteArray(bytes) as ipaddr.IPv6).toRFC5952String();
}

/**
 * Parses `ADDRESS/LENGTH` (IPv4 or IPv6) into a network. Host bits must be zero: `10.50.2.1/24`
 * is refused with a hint naming the network the user probably meant, because silently masking
 * would hide a typo.
 */
export function parseIpPrefix(text: string): IpPrefix {
  const match = typeof text === 'string' ? /^([^/\s]+)\/([0-9]{1,3})$/.exec(text) : null;
  let address: { family: 4 | 6; value: bigint } | undefined;
  try {
    address = match ? parseIpAddress(match[1] ?? '') : undefined;
  } catch {
    address = undefined;
  }
  const length = Number(match?.[2]);
  if (!address || !(length >= 0 && length <= BITS[address.family])) {
    throw new TunnelError('ERR_INVALID_CIDR', `${JSON.stringify(text)} is not an IPv4 or IPv6 network in CIDR form (e.g. 10.50.2.0/24 or 2001:db8:50::/48)`);
  }
  const network = address.value & prefixMask(address.family, length);
  if (network !== address.value) {
    const meant = formatIpPrefix({ family: address.family, network, length });
    throw new TunnelError('ERR_INVALID_CIDR', `${JSON.stringify(text)} has host bits set; did you mean ${meant}?`);
  }
  return { family: address.family, network, length };
}

/** Formats a network as `ADDRESS/LENGTH`, the canonical spelling the registry stores. */
export function formatIpPrefix(prefix: IpPrefix): string {
  return `${formatIpAddress(prefix.family, prefix.network)}/${prefix.length}`;
}

/** The canonical spelling of a CIDR (`2001:DB8:0::/48` → `2001:db8::/48`); ERR_INVALID_CIDR when malformed. */
export function canonicalPrefix(text: string): string {
  return formatIpPrefix(parseIpPrefix(text));
}

/** One past the last address of the network. */
function endOf(prefix: IpPrefix): bigint {
  return prefix.network + (1n << BigInt(BITS[prefix.family] - prefix.length));
}

/** True when the two networks are of one family and share at least one address. */
export function ipPrefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  return a.family === b.family && a.network < endOf(b) && b.network < endOf(a);
}

/** True when `inner` lies entirely inside `outer` (same family). */
export function ipPrefixContains(outer: IpPrefix, inner: IpPrefix): boolean {
  return outer.family === inner.family && inner.length >= outer.length && (inner.network & prefixMask(outer.family, outer.length)) === outer.network;
}

/** True when the address (of the prefix's family) lies inside the prefix. */
export function ipPrefixHas(prefix: IpPrefix, family: 4 | 6, address: bigint): boolean {
  return prefix.family === family && (address & prefixMask(family, prefix.length)) === prefix.network;
}

function bytesToBigint(bytes: number[]): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}
