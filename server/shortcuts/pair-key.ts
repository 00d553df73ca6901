/** One key for a member pair whichever way round it is named (peer names hold no spaces). */
export function pairKey(ends: readonly [string, string]): string {
  const [a, b] = ends;
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}
