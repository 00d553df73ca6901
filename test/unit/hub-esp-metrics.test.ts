import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerHubEspMetrics } from '../../server/admin/hub-esp-metrics.js';
import type { HubStatus } from '../../server/hub/hub-status.js';

type Peer = HubStatus['peers'][number];

function peer(name: string, fields: Partial<Peer>): Peer {
  return { name, encrypted: false, esp: null, aead: null, spiIn: [], spiOut: null, saAgeSeconds: null, dropsByReason: null, ...fields } as Peer;
}

const drops = (auth: number, noSa = 0): Record<string, number> => ({ 'rx:auth': auth, 'rx:replay': 0, 'rx:no-sa': noSa, 'tx:no-sa': 0, 'rx:cleartext': 0 });

function metrics(peers: () => Peer[]): () => Promise<string> {
  const register = new Registry();
  registerHubEspMetrics(register, async () => ({ peers: peers() }) as HubStatus);
  return () => register.metrics();
}

describe('the encryption series of /metrics', () => {
  it('count encrypted links by how ESP travels, the oldest SA, and drops by reason, with no peer label', async () => {
    const peers = [
      peer('alice', { encrypted: true, esp: 'raw', aead: 'aes-gcm', spiIn: [0x1234abcd], spiOut: 0x1234abce, saAgeSeconds: 40, dropsByReason: drops(2) }),
      peer('bob', { encrypted: true, esp: 'udp', aead: 'aes-gcm', spiIn: [0x2000], spiOut: 0x2001, saAgeSeconds: 700, dropsByReason: drops(1, 5) }),
      peer('carol', {}),
    ];
    const text = await metrics(() => peers)();
    expect(text).toContain('tunnel_encrypted_links{esp="raw"} 1');
    expect(text).toContain('tunnel_encrypted_links{esp="udp"} 1');
    expect(text).toContain('tunnel_esp_sa_age_max_seconds 700');
    expect(text).toContain('tunnel_esp_drops_total{reason="rx:auth"} 3');
    expect(text).toContain('tunnel_esp_drops_total{reason="rx:no-sa"} 5');
    expect(text).not.toMatch(/peer=/);
    // SPIs are for status, not for a time series.
    expect(text).not.toMatch(/1234ab|305441741/);
  });

  it('the hub-wide drops never fall: a tunnel that starts again from zero adds what it counts since', async () => {
    let peers = [peer('alice', { encrypted: true, esp: 'raw', dropsByReason: drops(10) })];
    const scrape = metrics(() => peers);
    expect(await scrape()).toContain('tunnel_esp_drops_total{reason="rx:auth"} 10');
    peers = [peer('alice', { encrypted: true, esp: 'raw', dropsByReason: drops(3) })];
    expect(await scrape()).toContain('tunnel_esp_drops_total{reason="rx:auth"} 13');
    peers = [];
    expect(await scrape()).toContain('tunnel_esp_drops_total{reason="rx:auth"} 13');
  });
});
