import { z } from 'zod';
import { formatIpAddress, parseIpAddress } from '../net/ip-prefix.js';

function isCanonicalAddress(text: string): boolean {
  try {
    const { family, value } = parseIpAddress(text);
    return formatIpAddress(family, value) === text;
  } catch {
    return false;
  }
}

/**
 * A tunnel's outer (public) address: IPv4 as a dotted quad or IPv6 as RFC 5952 writes it, so both
 * ends compare addresses as text.
 */
export const outerAddressSchema = z.string().max(39).refine(isCanonicalAddress, 'expected an IPv4 or IPv6 address in canonical form');
