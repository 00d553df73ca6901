/** One row of `tunnel-client status` as the table prints it. */
interface Row {
  name: unknown; state: unknown; encap: unknown; local: unknown; remote: unknown; inner: unknown; peerInner: unknown; mtu: unknown;
  rx?: { packets?: unknown; bytes?: unknown; errors?: unknown; dropped?: unknown };
  tx?: { packets?: unknown; bytes?: unknown; errors?: unknown; dropped?: unknown };
  routes?: unknown[];
  encrypted?: unknown; aead?: unknown; spiIn?: unknown; spiOut?: unknown; saAgeSeconds?: unknown;
  kind?: unknown; why?: unknown;
}

const COLUMNS = ['NAME', 'STATE', 'ENCAP', 'ESP', 'LOCAL', 'REMOTE', 'INNER', 'PEER', 'MTU', 'RX PKTS', 'RX BYTES', 'RX ERR', 'RX DROP', 'TX PKTS', 'TX BYTES', 'TX ERR', 'TX DROP', 'ROUTES', 'KIND'];

/** The human-readable status: one aligned row per tunnel, or a sentence when none runs. */
export function formatStatusTable(tunnels: Record<string, unknown>[]): string {
  if (tunnels.length === 0) return 'no tunnels are running (start one with `tunnel-client up` or `tunnel-client run`)\n';
  const rows = tunnels.map((tunnel) => {
    const t = tunnel as unknown as Row;
    const remote = t.remote ?? '';
    return [t.name, t.state, t.encap, espCell(t), t.local, remote, t.inner, t.peerInner, t.mtu,
      t.rx?.packets, t.rx?.bytes, t.rx?.errors, t.rx?.dropped, t.tx?.packets, t.tx?.bytes, t.tx?.errors, t.tx?.dropped,
      t.routes?.length, t.kind === 'shortcut' && t.why !== undefined ? `shortcut (${String(t.why)})` : t.kind].map((v) => String(v ?? '-'));
  });
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(COLUMNS), ...rows.map(line)].join('\n') + '\n';
}

/** The ESP column: AEAD, the SPI sealed with and those opened, the SA's age; `-` in the clear. Never a key. */
function espCell(t: Row): string {
  if (t.encrypted !== true) return '-';
  const spi = (value: unknown): string => (typeof value === 'number' ? `0x${value.toString(16).padStart(8, '0')}` : '-');
  const opened = Array.isArray(t.spiIn) ? t.spiIn.map(spi).join('+') : '-';
  const age = typeof t.saAgeSeconds === 'number' ? ` ${t.saAgeSeconds}s` : '';
  return `${String(t.aead ?? 'esp')} out ${spi(t.spiOut)} in ${opened}${age}`;
}
