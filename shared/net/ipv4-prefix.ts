import { TunnelError } from '../errors.js';
import { formatIpv4Address, isIpv4Address, parseIpv4Address } from './ipv4-address.js';

/** An IPv4 network: its first address as an unsigned integer and its prefix length. */
export interface Ipv4Prefix {
  readonly network: number;
  readonly length: number;
}

/** Number of addresses in a prefix of the given length. */
export function prefixSize(length: number): number {
  return 2 ** (32 - length);
}

/** The netmask of a prefix length as an unsigned integer. */
function maskOf(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

/**
 * Parses `A.B.C.D/N` into a network. Host bits must be zero: `10.1.12.1/24` is refused with a hint
 * naming the network the user probably meant, because silently masking would hide a typo.
 */
export function parseIpv4Prefix(text: string): Ipv4Prefix {
  const match = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  const length = match ? Number(match[2]) : NaN;
  if (!match || !isIpv4Address(match[1] ?? '') || !(length >= 0 && length <= 32)) {
    throw new TunnelError('ERR_INVALID_CIDR', `"${text}" is not an IPv4 network in CIDR form (e.g. 10.1.12.0/24)`);
  }
  const address = parseIpv4Address(match[1] ?? '');
  const network = (address & maskOf(length)) >>> 0;
  if (network !== address) {
    const meant = formatIpv4Prefix({ network, length });
    throw new TunnelError('ERR_INVALID_CIDR', `"${text}" has host bits set; did you mean ${meant}?`);
  }
  return { network, length };
}

/** Formats a network as `A.B.C.D/N`. */
export function formatIpv4Prefix(prefix: Ipv4Prefix): string {
  return `${formatIpv4Address(prefix.network)}/${prefix.length}`;
}

/** True when the two networks share at least one address. */
export function prefixesOverlap(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  return a.network < b.network + prefixSize(b.length) && b.network < a.network + prefixSize(a.length);
}

/** True when `inner` lies entirely inside `outer`. */
export function prefixContains(outer: Ipv4Prefix, inner: Ipv4Prefix): boolean {
  return inner.length >= outer.length && inner.network >= outer.network
    && inner.network + prefixSize(inner.length) <= outer.network + prefixSize(outer.length);
}
