import type { LinkRecord } from '../registry/link-store.js';

/** One line of `link list --json`: the link's record, its age and its rate. */
export interface LinkListEntry extends LinkRecord {
  /** Seconds since the link was made. */
  readonly age: number;
  /**
   * Bits per second across a shortcut, as the running hub measures it from its ends' reports; null
   * for an operator's link, and while no hub runs (the registry holds no traffic).
   */
  readonly rate: number | null;
}

/** The peer<->peer links as `link list` shows them, at `now` (ms), with the running hub's `rates` by link id. */
export function linkListEntries(links: readonly LinkRecord[], now: number, rates: ReadonlyMap<number, number> = new Map()): LinkListEntry[] {
  return links.map((link) => ({ ...link, age: Math.max(0, Math.floor((now - link.createdAt) / 1000)), rate: rates.get(link.id) ?? null }));
}

/** An age for people: `42s`, `3m12s`, `2h05m`, `3d04h`. */
export function formatAge(seconds: number): string {
  const two = (n: number) => String(n).padStart(2, '0');
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)}h${two(Math.floor((seconds % 3_600) / 60))}m`;
  return `${Math.floor(seconds / 86_400)}d${two(Math.floor((seconds % 86_400) / 3_600))}h`;
}
