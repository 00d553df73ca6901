/** Decimal multipliers, as tc(8) counts them: 1 kbit = 1000 bit. */
const PREFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };

/**
 * Reads a bit rate: a number, a unit (`bit`, `kbit`, `Mbit`, `Gbit`, any case) and optionally
 * `/s`, or the same prefixes with `bps`: `500kbit`, `1Mbit/s`, `2.5Gbit/s`, `10mbps`. Bits per
 * second, or undefined when the text is not a rate.
 */
export function parseBitRate(text: string): number | undefined {
  const match = /^([0-9]{1,9}(?:\.[0-9]{1,3})?) ?([kmg]?)(?:bit(?:\/s)?|bps)$/i.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (PREFIX[(match[2] ?? '').toLowerCase()] ?? 1));
}

const UNITS = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'] as const;

/** A rate for people: `3.2 Mbit/s`, `640 kbit/s`, `1 Gbit/s` (at most one decimal). */
export function formatBitRate(bitsPerSecond: number): string {
  let value = bitsPerSecond;
  let unit = 0;
  // Rounded before the unit is chosen, so 999.96 kbit/s reads 1 Mbit/s, not 1000 kbit/s.
  while (unit < UNITS.length - 1 && Number(value.toFixed(1)) >= 1000) {
    value /= 1000;
    unit += 1;
  }
  return `${Number(value.toFixed(1))} ${UNITS[unit]}`;
}
