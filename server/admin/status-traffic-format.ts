/**
 * A rate (`bit/s`) or an amount (`B`) in decimal units: `0 bit/s`, `1.00 kbit/s`, `500.0 kbit/s`,
 * `10.0 kB`. The status page runs this very function (inlined), so it uses nothing from outside.
 */
export function formatTraffic(value: number, unit: 'bit/s' | 'B'): string {
  const units = unit === 'bit/s' ? ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'] : ['B', 'kB', 'MB', 'GB', 'TB'];
  let step = 0;
  while (value >= 1000 && step < units.length - 1) {
    value /= 1000;
    step += 1;
  }
  if (step === 0) return String(Math.round(value)) + ' ' + units[0];
  return value.toFixed(unit === 'bit/s' && value < 10 ? 2 : 1) + ' ' + units[step];
}
