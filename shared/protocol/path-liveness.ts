/**
 * Path-proven liveness, agreed at the WebSocket upgrade: a member offers it with this header and
 * value, a hub that can tell its tunnels' liveness accepts by sending the same back. Then, while
 * the member's hub tunnel is up on a side (its path keepalives answered), that side counts the
 * other as alive without control messages, and control keepalives slow to one every
 * PATH_PROVEN_INTERVALS keepalive intervals: a hub of thousands writes and reads a twelfth of the
 * control messages it did while idle. A peer that does not know the header ignores it and keeps the usual
 * keepalives, so old members and old hubs work as before.
 */
export const PATH_LIVENESS = { header: 'x-tunnel-liveness', value: 'path' } as const;

/**
 * While the path proves both ends alive, a control keepalive still goes every this many keepalive
 * intervals (2 min by default): what keeps a NAT's mapping of the control connection, and finds
 * one that died. (It was 6 in the first release of path-proven liveness; either side of that
 * release and this one hears the other well within its control silence.)
 */
export const PATH_PROVEN_INTERVALS = 12;

/**
 * Control silence either side accepts on a path-proven session, in keepalive intervals, however
 * the path fares: a control connection that died unnoticed (a NAT dropped its mapping) is found.
 * Two control keepalive intervals: TCP delivers each keepalive or fails the connection.
 */
export const CONTROL_SILENCE_INTERVALS = 2 * PATH_PROVEN_INTERVALS;

/**
 * Whether path keepalives every `pathIntervalMs` come often enough to stand for control messages
 * under these timeouts: a proof is up to an interval old when read, so two intervals must fit in
 * the hub's liveness timeout and in the member's (three control keepalive intervals).
 */
export function pathLivenessFits(pathIntervalMs: number, timing: { keepaliveMs: number; livenessMs: number }): boolean {
  return pathIntervalMs > 0 && 2 * pathIntervalMs <= Math.min(timing.livenessMs, 3 * timing.keepaliveMs);
}

/** True when a header value (as Node gives it) offers or accepts path-proven liveness. */
export function offersPathLiveness(value: string | string[] | undefined): boolean {
  const values = Array.isArray(value) ? value : value === undefined ? [] : value.split(',');
  return values.some((item) => item.trim().toLowerCase() === PATH_LIVENESS.value);
}
