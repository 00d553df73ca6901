import { createHash } from 'node:crypto';

/** Linux interface names are at most 15 bytes (IFNAMSIZ less the terminating NUL). */
const MAX_INTERFACE_NAME = 15;
/** Interfaces toward members and the hub. */
const PREFIX = 'tnl-';
/** Interfaces toward the other hubs of a cluster. */
export const HUB_LINK_PREFIX = 'hub-';

/**
 * The interface name one end uses for its tunnel towards `otherEnd`: `tnl-alice`, `tnl-hub`, or
 * with HUB_LINK_PREFIX a hub's tunnel toward another hub, `hub-hub2`.
 * Names too long for Linux keep their first letters plus a short hash, so the result is stable
 * and still distinct for peers sharing a long common beginning.
 */
export function tunnelInterfaceName(otherEnd: string, prefix = PREFIX): string {
  const plain = `${prefix}${otherEnd}`;
  if (plain.length <= MAX_INTERFACE_NAME) return plain;
  const hash = createHash('sha256').update(otherEnd).digest('hex').slice(0, 4);
  const keep = MAX_INTERFACE_NAME - prefix.length - hash.length - 1;
  return `${prefix}${otherEnd.slice(0, keep)}-${hash}`;
}
