import { describe, expect, it } from 'vitest';
import { HubMetrics } from '../../server/admin/hub-metrics.js';
import { formatPeerEsp } from '../../server/admin/hub-peer-esp-metrics.js';
import type { HubStatus } from '../../server/hub/hub-status.js';
import { metricFamilies, metricProblems, metricValue, promtoolCheck, promtoolUnavailableReason } from '../helpers/prometheus-text.js';

type Peer = HubStatus['peers'][number];

const COUNTERS = { rx: { packets: 5, bytes: 500, errors: 0, dropped: 0 }, tx: { packets: 4, bytes: 400, errors: 0, dropped: 0 } };
const drops = (auth: number, noSa = 0): Record<string, number> => ({ 'rx:auth': auth, 'rx:replay': 0, 'rx:no-sa': noSa, 'tx:no-sa': 0, 'rx:cleartext': 0 });

function peer(name: string, fields: Partial<Peer>): Peer {
  return {
    name, encap: 'gre', connected: true, counters: COUNTERS, spoofed: 0, encrypted: false, esp: null, aead: null, spiIn: [], spiOut: null,
    saAgeSeconds: null, rekey: null, dropsByReason: null, ...fields,
  } as Peer;
}

/** alice on raw ESP, "b\"ob" (a name to escape) in UDP 4500 with drops, carol in the clear, dave registered but with no tunnel here. */
const PEERS = [
  peer('alice', { encrypted: true, esp: 'raw', aead: 'aes-gcm', spiIn: [0x1234abcd], spiOut: 0x1234abce, saAgeSeconds: 40, dropsByReason: drops(0) }),
  peer('b"ob', { encap: 'fou', encrypted: true, esp: 'udp', aead: 'aes-gcm', spiIn: [0x2000], spiOut: 0x2001, saAgeSeconds: 700, dropsByReason: drops(3, 7) }),
  peer('carol', {}),
  peer('dave', { connected: false, counters: null, spoofed: null }),
];

function hubMetrics(perPeer: boolean): HubMetrics {
  const status = { peers: PEERS, links: [], hubLinks: [], shortcuts: null } as unknown as HubStatus;
  return new HubMetrics({ status: () => status, pools: () => [], gates: [], perPeer });
}

const promtoolMissing = promtoolUnavailableReason();
if (promtoolMissing) console.warn(`skipping the promtool checks of the per-peer ESP series: ${promtoolMissing}`);

describe('the per-peer encryption series', () => {
  it('say per member tunnel whether it is encrypted, and for encrypted ones the SA\'s age and drops by reason; nothing for a peer with no tunnel', () => {
    const text = formatPeerEsp(PEERS);
    expect(metricValue(text, 'tunnel_peer_encrypted{peer="alice",encap="gre"}')).toBe(1);
    expect(metricValue(text, 'tunnel_peer_encrypted{peer="b\\"ob",encap="fou"}')).toBe(1);
    expect(metricValue(text, 'tunnel_peer_encrypted{peer="carol",encap="gre"}')).toBe(0);
    expect(metricValue(text, 'tunnel_peer_esp_sa_age_seconds{peer="alice",encap="gre"}')).toBe(40);
    expect(metricValue(text, 'tunnel_peer_esp_sa_age_seconds{peer="b\\"ob",encap="fou"}')).toBe(700);
    expect(metricValue(text, 'tunnel_peer_esp_drops_total{peer="b\\"ob",encap="fou",reason="rx:auth"}')).toBe(3);
    expect(metricValue(text, 'tunnel_peer_esp_drops_total{peer="b\\"ob",encap="fou",reason="rx:no-sa"}')).toBe(7);
    expect(metricValue(text, 'tunnel_peer_esp_drops_total{peer="alice",encap="gre",reason="rx:cleartext"}')).toBe(0);
    const families = metricFamilies(text);
    expect(families.get('tunnel_peer_encrypted')).toMatchObject({ type: 'gauge' });
    expect(families.get('tunnel_peer_encrypted')?.labelSets).toHaveLength(3);
    expect(families.get('tunnel_peer_esp_sa_age_seconds')?.labelSets).toHaveLength(2);
    expect(families.get('tunnel_peer_esp_drops_total')).toMatchObject({ type: 'counter' });
    expect(families.get('tunnel_peer_esp_drops_total')?.labelSets).toHaveLength(10);
    // carol (in the clear) has her encrypted gauge only; dave (no tunnel here) nothing.
    expect(text.split('\n').filter((line) => line.includes('carol'))).toEqual(['tunnel_peer_encrypted{peer="carol",encap="gre"} 0']);
    expect(text).not.toMatch(/dave/);
    // SPIs are for status, not for a time series; there are no keys to leak here at all.
    expect(text).not.toMatch(/1234ab|305441741|\b2001\b|\b8193\b|spi[a-z]*="/i);
  });

  it.skipIf(promtoolMissing !== null)('/metrics with --metrics-per-peer on carries them beside the traffic series, and promtool accepts it', async () => {
    const metrics = hubMetrics(true);
    try {
      const text = await metrics.metrics();
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
      expect(metricProblems(text, { tunnel_peer_encrypted: 'gauge', tunnel_peer_esp_sa_age_seconds: 'gauge', tunnel_peer_esp_drops_total: 'counter' })).toEqual([]);
      expect(metricValue(text, 'tunnel_peer_esp_drops_total{peer="b\\"ob",encap="fou",reason="rx:auth"}')).toBe(3);
      expect(metricValue(text, 'tunnel_peer_receive_bytes_total{peer="alice",encap="gre"}')).toBe(500);
      // The hub-wide encryption series are there too.
      expect(metricValue(text, 'tunnel_esp_drops_total{reason="rx:no-sa"}')).toBe(7);
    } finally {
      metrics.close();
    }
  });

  it.skipIf(promtoolMissing !== null)('/metrics with --metrics-per-peer off drops them like the other per-peer series; the hub-wide ones stay', async () => {
    const metrics = hubMetrics(false);
    try {
      const text = await metrics.metrics();
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
      expect([...metricFamilies(text).keys()].filter((name) => name.startsWith('tunnel_peer_'))).toEqual([]);
      expect(text).not.toMatch(/peer="/);
      expect(metricValue(text, 'tunnel_encrypted_links{esp="udp"}')).toBe(1);
      expect(metricValue(text, 'tunnel_esp_sa_age_max_seconds')).toBe(700);
    } finally {
      metrics.close();
    }
  });
});
