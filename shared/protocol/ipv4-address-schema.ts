import { z } from 'zod';

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
const IPV4_CIDR = new RegExp(`^${OCTET}(\\.${OCTET}){3}/(3[0-2]|[12]?\\d)$`);

/** A dotted-quad IPv4 address in canonical form (no leading zeros). */
export const ipv4AddressSchema = z.string().regex(IPV4, 'expected an IPv4 address');

/** An IPv4 address with a prefix length, e.g. `10.1.12.38/30`. */
export const ipv4CidrSchema = z.string().regex(IPV4_CIDR, 'expected IPv4 address/prefix');
