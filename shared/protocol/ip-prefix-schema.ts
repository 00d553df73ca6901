import { z } from 'zod';
import { canonicalPrefix } from '../net/ip-prefix.js';

function isCanonicalPrefix(text: string): boolean {
  try {
    return canonicalPrefix(text) === text;
  } catch {
    return false;
  }
}

/**
 * An IPv4 or IPv6 network in its canonical spelling (`10.50.2.0/24`, `2001:db8:52::/64`): host
 * bits zero, IPv6 as RFC 5952 writes it, so both ends compare prefixes as text.
 */
export const ipPrefixSchema = z.string().max(43).refine(isCanonicalPrefix, 'expected a network in canonical CIDR form');
