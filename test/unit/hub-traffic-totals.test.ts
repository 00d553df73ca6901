import { describe, expect, it } from 'vitest';
import { HUB_TRAFFIC_TOTALS, HubTrafficTotals } from '../../server/admin/hub-traffic-totals.js';
import { TUNNEL_TRAFFIC_SERIES, formatTunnelTraffic, type TunnelTrafficSample } from '../../shared/metrics/tunnel-traffic-metrics.js';

/** A sample whose every counter is `n` (spoofed: null when not filtered). */
function sample(peer: string, encap: string, n: number, spoofed: number | null = n): TunnelTrafficSample {
  const direction = { packets: n, bytes: n, errors: n, dropped: n };
  return { peer, encap, rx: { ...direction }, tx: { ...direction }, spoofed };
}

const RX_BYTES = TUNNEL_TRAFFIC_SERIES.findIndex((series) => series.name === 'tunnel_peer_receive_bytes_total');
const SPOOFED = TUNNEL_TRAFFIC_SERIES.findIndex((series) => series.name === 'tunnel_peer_spoofed_packets_total');

describe('hub-wide traffic totals', () => {
  it('are named after the per-peer series without `peer_`, one per series', () => {
    expect(HUB_TRAFFIC_TOTALS.map((series) => series.name)).toEqual(TUNNEL_TRAFFIC_SERIES.map((series) => series.name.replace('tunnel_peer_', 'tunnel_')));
    expect(HUB_TRAFFIC_TOTALS.every((series) => !series.name.includes('peer'))).toBe(true);
  });

  it('add what each tunnel counted since the last scrape, by encapsulation', () => {
    const totals = new HubTrafficTotals();
    totals.observe([sample('alice', 'gre', 10), sample('bob', 'gre', 5), sample('carol', 'fou', 7, null)]);
    expect(totals.of(RX_BYTES)).toEqual([['gre', 15], ['fou', 7]]);
    expect(totals.of(SPOOFED)).toEqual([['gre', 15], ['fou', 0]]);
    totals.observe([sample('alice', 'gre', 12), sample('bob', 'gre', 5), sample('carol', 'fou', 9, null)]);
    expect(totals.of(RX_BYTES)).toEqual([['gre', 17], ['fou', 9]]);
  });

  it('never fall: a member that leaves keeps what it added, a tunnel started again from zero adds all it counts', () => {
    const totals = new HubTrafficTotals();
    totals.observe([sample('alice', 'gre', 100), sample('bob', 'gre', 50)]);
    totals.observe([sample('bob', 'gre', 60)]);
    expect(totals.of(RX_BYTES)).toEqual([['gre', 160]]);
    totals.observe([sample('bob', 'gre', 3)]);
    expect(totals.of(RX_BYTES)).toEqual([['gre', 163]]);
    // alice back with a new tunnel: counted from its zero, not from the 100 it had before.
    totals.observe([sample('alice', 'gre', 4), sample('bob', 'gre', 3)]);
    expect(totals.of(RX_BYTES)).toEqual([['gre', 167]]);
    // A tunnel that moves to another encapsulation adds what it counts there from then on.
    totals.observe([sample('alice', 'fou', 6), sample('bob', 'gre', 3)]);
    expect(totals.of(RX_BYTES)).toEqual([['gre', 167], ['fou', 2]]);
  });
});

describe('the per-peer exposition', () => {
  it('writes every family with its help and type, one line per tunnel, labelled peer then encap', () => {
    const text = formatTunnelTraffic([sample('alice', 'gre', 3), sample('bob', 'fou', 4, null)]);
    const lines = text.split('\n');
    for (const series of TUNNEL_TRAFFIC_SERIES) {
      expect(lines).toContain(`# HELP ${series.name} ${series.help}`);
      expect(lines).toContain(`# TYPE ${series.name} counter`);
      expect(lines).toContain(`${series.name}{peer="alice",encap="gre"} 3`);
    }
    expect(lines).toContain('tunnel_peer_receive_bytes_total{peer="bob",encap="fou"} 4');
    expect(lines.filter((line) => line.startsWith('tunnel_peer_spoofed_packets_total{'))).toEqual(['tunnel_peer_spoofed_packets_total{peer="alice",encap="gre"} 3']);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('escapes backslash, double quote and line feed in label values', () => {
    expect(formatTunnelTraffic([sample('a"b\\c\nd', 'gre', 1)])).toContain('tunnel_peer_receive_bytes_total{peer="a\\"b\\\\c\\nd",encap="gre"} 1');
  });

  it('still declares every family when there is no tunnel', () => {
    const text = formatTunnelTraffic([]);
    expect(text.split('\n').filter((line) => line.startsWith('# TYPE '))).toHaveLength(TUNNEL_TRAFFIC_SERIES.length);
    expect(text.split('\n').filter((line) => line !== '' && !line.startsWith('#'))).toEqual([]);
  });
});
