import { formatIpv4Address } from './ipv4-address.js';
import { formatIpv4Prefix } from './ipv4-prefix.js';

/** Prefix length of the point-to-point subnet every link gets. */
export const LINK_PREFIX_LENGTH = 30;

/** Addresses in one link subnet (network, two usable, broadcast). */
export const LINK_SUBNET_SIZE = 4;

/** The dotted-quad view of one link's /30: the lower usable address belongs to the first end. */
export interface LinkSubnet {
  readonly prefix: string;
  readonly firstEnd: string;
  readonly secondEnd: string;
}

/** Describes the /30 starting at `network` (which must be 4-aligned). */
export function describeLinkSubnet(network: number): LinkSubnet {
  return {
    prefix: formatIpv4Prefix({ network, length: LINK_PREFIX_LENGTH }),
    firstEnd: formatIpv4Address(network + 1),
    secondEnd: formatIpv4Address(network + 2),
  };
}
