import { describe, expect, it } from 'vitest';
import { MemoryDatapath } from '../../server/hub/memory-datapath.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';

const spec = (name: string, remote: string): WireTunnelSpec => ({
  name, encap: 'gre', local: '192.0.2.1', remote, key: 7, address: '10.1.12.1/30', peerAddress: '10.1.12.2', mtu: 1472, keepaliveInterval: 10,
} as WireTunnelSpec);

describe('the hub datapath that moves no packets (serve --datapath none)', () => {
  it('keeps one spec per tunnel however often it is reconfigured, and only counts the reconfigurations', async () => {
    const datapath = new MemoryDatapath();
    for (let i = 0; i < 2_000; i++) await datapath.upsert(spec(`tnl-m${i % 4}`, `198.51.100.${(i % 250) + 1}`), `m${i % 4}`);
    expect(datapath.upserts).toBe(2_000);
    expect([...datapath.tunnels.keys()].sort()).toEqual(['tnl-m0', 'tnl-m1', 'tnl-m2', 'tnl-m3']);
    expect(datapath.tunnels.get('tnl-m3')?.remote).toBe('198.51.100.250');
    // Nothing in it grows with the number of reconfigurations.
    const sizes = Object.values(datapath).map((value) => (Array.isArray(value) ? value.length : value instanceof Map ? value.size : 0));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
  });
});
