import { createHash } from 'node:crypto';

/** Linux interface names are at most 15 bytes (IFNAMSIZ less the terminating NUL). */
const MAX_INTERFACE_NAME = 15;
const PREFIX = 'tnl-';

/**
 * The interface name one end uses for its tunnel towards `otherEnd`: `tnl-alice`, `tnl-hub`.
 * Names too long for Linux keep their first letters plus a short hash, so the result is stable
 * and still distinct for peers sharing a long common beginning.
 */
export function tunnelInterfaceName(otherEnd: string): string {
  const plain = `${PREFIX}${otherEnd}`;
  if (plain.length <= MAX_INTERFACE_NAME) return plain;
  const hash = createHash('sha256').update(otherEnd).digest('hex').slice(0, 4);
  const keep = MAX_INTERFACE_NAME - PREFIX.length - hash.length - 1;
  return `${PREFIX}${otherEnd.slice(0, keep)}-${hash}`;
}
