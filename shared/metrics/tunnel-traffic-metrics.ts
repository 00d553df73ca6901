/** One direction's totals, as the datapath counts them. */
export interface DirectionTotals {
  packets: number;
  bytes: number;
  errors: number;
  dropped: number;
}

/** One tunnel's counters at scrape time, labelled by the other end's name and the encapsulation. */
export interface TunnelTrafficSample {
  peer: string;
  encap: string;
  rx: DirectionTotals;
  tx: DirectionTotals;
  /** Inner packets dropped for a source the tunnel does not accept (null: not filtered). */
  spoofed: number | null;
}

/** Reads one counter of a sample (null: the tunnel does not count it). */
export type Field = (sample: TunnelTrafficSample) => number | null;

/** One per-tunnel series: its name, help and the sample field it reads. */
export interface TunnelTrafficSeries {
  readonly name: string;
  readonly help: string;
  readonly field: Field;
}

/** The per-tunnel series both `tunnel-hub` and `tunnel-client` export, with the same names. */
export const TUNNEL_TRAFFIC_SERIES: readonly TunnelTrafficSeries[] = [
  { name: 'tunnel_peer_receive_bytes_total', help: 'Inner bytes received from the peer through its tunnel', field: (s) => s.rx.bytes },
  { name: 'tunnel_peer_transmit_bytes_total', help: 'Inner bytes sent to the peer through its tunnel', field: (s) => s.tx.bytes },
  { name: 'tunnel_peer_receive_packets_total', help: 'Packets received from the peer through its tunnel', field: (s) => s.rx.packets },
  { name: 'tunnel_peer_transmit_packets_total', help: 'Packets sent to the peer through its tunnel', field: (s) => s.tx.packets },
  { name: 'tunnel_peer_receive_dropped_packets_total', help: 'Packets from the peer refused (unbound source, queue full, too big…)', field: (s) => s.rx.dropped },
  { name: 'tunnel_peer_transmit_dropped_packets_total', help: 'Packets to the peer that could not be sent (no verified address, queue full…)', field: (s) => s.tx.dropped },
  { name: 'tunnel_peer_receive_errors_total', help: 'Malformed packets received on the peer\'s tunnel', field: (s) => s.rx.errors },
  { name: 'tunnel_peer_transmit_errors_total', help: 'Packets to the peer the system refused to send', field: (s) => s.tx.errors },
  { name: 'tunnel_peer_spoofed_packets_total', help: 'Inner packets from the peer dropped for a source address it may not use', field: (s) => s.spoofed },
];

/**
 * The per-tunnel counters in the Prometheus text format, every family from one pass over
 * `samples`, labelled `peer` and `encap` only, so their number grows with peers, never with
 * traffic. A tunnel rebuilt from scratch starts again from zero, which Prometheus reads as a reset.
 * Written here rather than through prom-client's labelled counters: those hash and format every
 * label set one by one, about a second per scrape for a hub of 10,000 tunnels.
 */
export function formatTunnelTraffic(samples: readonly TunnelTrafficSample[]): string {
  const families = TUNNEL_TRAFFIC_SERIES.map((series) => [`# HELP ${series.name} ${series.help}`, `# TYPE ${series.name} counter`]);
  for (const sample of samples) {
    const labels = `{peer="${labelValue(sample.peer)}",encap="${labelValue(sample.encap)}"} `;
    TUNNEL_TRAFFIC_SERIES.forEach((series, i) => {
      const value = series.field(sample);
      if (value !== null) families[i]?.push(`${series.name}${labels}${value}`);
    });
  }
  return `${families.map((lines) => lines.join('\n')).join('\n')}\n`;
}

/** A label value as the text format writes it: backslash, double quote and line feed escaped. */
export function labelValue(text: string): string {
  return text.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/**
 * Wraps `read` so that the metrics of one scrape share one reading: prom-client collects every
 * metric of a scrape at once, so calls made while a reading is under way (and in the same turn of
 * the event loop) get it; the next scrape reads afresh.
 */
export function oncePerScrape<T>(read: () => Promise<T> | T): () => Promise<T> {
  let current: Promise<T> | undefined;
  return () => {
    if (current) return current;
    const reading = Promise.resolve().then(read);
    current = reading;
    const forget = (): void => {
      setImmediate(() => {
        if (current === reading) current = undefined;
      });
    };
    reading.then(forget, forget);
    return reading;
  };
}
