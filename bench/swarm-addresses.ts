/**
 * The member swarm's addresses: 100.64.0.0/10 (shared address space, RFC 6598), local to the
 * members' namespace as a whole through one route, so any of them can be bound without being
 * added. Generation g of the addresses lies in 100.(64 + 4g).0.0/14 (16 generations): a member that
 * moves takes the same index in the next generation.
 */

/** The members' prefix, routed as local in their namespace. */
export const SWARM_MEMBER_PREFIX = '100.64.0.0/10';

/** Members one generation holds: 1,024 /24s of 254 usable addresses. */
export const SWARM_MAX_MEMBERS = 254 * 1024;

/** Member `index`'s address in `generation` (0 for the first). */
export function swarmMemberAddress(index: number, generation: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= SWARM_MAX_MEMBERS) throw new RangeError(`member index ${index} is outside 0..${SWARM_MAX_MEMBERS - 1}`);
  const block = Math.floor(index / 254);
  return `100.${64 + 4 * (generation % 16) + Math.floor(block / 256)}.${block % 256}.${(index % 254) + 1}`;
}
