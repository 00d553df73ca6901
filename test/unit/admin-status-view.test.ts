import { describe, expect, it } from 'vitest';
import { buildStatusView } from '../../server/admin/status-view.js';
import type { HubStatus, PeerStatus } from '../../server/hub/hub-status.js';

function peer(name: string, connected: boolean, extra: Partial<PeerStatus> = {}): PeerStatus {
  return {
    name, connected, transport: connected ? 'ws' : null,
    endpoint: { seen: '203.0.113.10', reported: '192.168.1.2' }, nat: true,
    encap: 'fou', encapReason: 'nat-detected', probes: null, keepaliveInterval: 10,
    prefix: '10.1.12.0/30', inner: '10.1.12.2', tunnel: `tnl-${name}`, specVersion: null,
    lastSeen: '2026-01-01T00:00:00.000Z', lastError: null,
    counters: { rx: { packets: 3, bytes: 300, errors: 0, dropped: 1 }, tx: { packets: 4, bytes: 400, errors: 0, dropped: 2 } },
    binding: null, routes: [], spoofed: 0, ...extra,
  };
}

const hub: HubStatus['hub'] = { running: true, endpoint: '198.51.100.1', pid: 1, wsPort: 8443, sshPort: 2222, hubId: 'SHA256:x' };

describe('the live page\'s view of the hub status', () => {
  it('lists up peers first, then by name, with what each card shows', () => {
    const view = buildStatusView({ hub, peers: [peer('carol', false), peer('bob', true), peer('alice', false), peer('dave', true, { counters: null })], links: [] }, 42);
    expect(view.at).toBe(42);
    expect(view.hub).toEqual({ endpoint: '198.51.100.1', hubId: 'SHA256:x', wsPort: 8443, sshPort: 2222 });
    expect(view.peers.map((p) => [p.name, p.state])).toEqual([['bob', 'up'], ['dave', 'up'], ['alice', 'down'], ['carol', 'down']]);
    expect(view.peers[0]).toEqual({
      name: 'bob', state: 'up', transport: 'ws', seen: '203.0.113.10', reported: '192.168.1.2', nat: true,
      encap: 'fou', encapReason: 'nat-detected', prefix: '10.1.12.0/30', inner: '10.1.12.2', routes: [],
      lastSeen: '2026-01-01T00:00:00.000Z', rxBytes: 300, txBytes: 400, rxPackets: 3, txPackets: 4, dropped: 3,
    });
    expect(view.peers[1]).toMatchObject({ rxBytes: null, txBytes: null, dropped: null });
  });

  it('carries the routes of a peer\'s tunnel', () => {
    const routed = peer('erin', true, { routes: ['10.7.0.0/24', '10.1.12.0/24'] });
    expect(buildStatusView({ hub, peers: [routed], links: [] }, 0).peers[0]?.routes).toEqual(['10.7.0.0/24', '10.1.12.0/24']);
  });
});
