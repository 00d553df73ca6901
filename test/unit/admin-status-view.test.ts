import { describe, expect, it } from 'vitest';
import { buildStatusView } from '../../server/admin/status-view.js';
import type { HubStatus, PeerLinkStatus, PeerStatus } from '../../server/hub/hub-status.js';

function peer(name: string, connected: boolean, extra: Partial<PeerStatus> = {}): PeerStatus {
  return {
    name, connected, transport: connected ? 'ws' : null,
    endpoint: { seen: '203.0.113.10', reported: '192.168.1.2' }, nat: true,
    encap: 'fou', outerFamily: 'ipv4', encapReason: 'nat-detected', probes: null, keepaliveInterval: 10,
    prefix: '10.1.12.0/30', inner: '10.1.12.2', tunnel: `tnl-${name}`, specVersion: null,
    lastSeen: '2026-01-01T00:00:00.000Z', lastError: null,
    counters: { rx: { packets: 3, bytes: 300, errors: 0, dropped: 1 }, tx: { packets: 4, bytes: 400, errors: 0, dropped: 2 } },
    binding: null, routes: [], spoofed: 0, software: connected ? 'tunnel-client/1.2.3' : null,
    encrypted: false, esp: null, aead: null, spiIn: [], spiOut: null, saAgeSeconds: null, rekey: null, dropsByReason: null, ...extra,
  };
}

const hub: HubStatus['hub'] = { running: true, endpoint: '198.51.100.1', pid: 1, wsPort: 8443, sshPort: 2222, hubId: 'SHA256:x' };

describe('the live page\'s view of the hub status', () => {
  it('lists up peers first, then by name, with what each card shows', () => {
    const view = buildStatusView({ version: '1.2.4', hub, peers: [peer('carol', false), peer('bob', true), peer('alice', false), peer('dave', true, { counters: null })], links: [], hubLinks: [], shortcuts: null }, 42);
    expect(view.at).toBe(42);
    expect(view.hub).toEqual({ endpoint: '198.51.100.1', hubId: 'SHA256:x', wsPort: 8443, sshPort: 2222, version: '1.2.4' });
    expect(view.peers.map((p) => [p.name, p.state])).toEqual([['bob', 'up'], ['dave', 'up'], ['alice', 'down'], ['carol', 'down']]);
    expect(view.peers[0]).toEqual({
      name: 'bob', state: 'up', transport: 'ws', router: false, seen: '203.0.113.10', reported: '192.168.1.2', nat: true,
      encap: 'fou', encapReason: 'nat-detected', prefix: '10.1.12.0/30', inner: '10.1.12.2', routes: [],
      lastSeen: '2026-01-01T00:00:00.000Z', since: null, hub: null, rxBytes: 300, txBytes: 400, rxPackets: 3, txPackets: 4, dropped: 3, software: 'tunnel-client/1.2.3',
      encryption: null, direct: [],
    });
    expect(view.peers[2]).toMatchObject({ name: 'alice', software: null });
    expect(view.peers[1]).toMatchObject({ rxBytes: null, txBytes: null, dropped: null });
  });

  it('says how a peer\'s link is encrypted, never with an SPI or key', () => {
    const esp = { encrypted: true, aead: 'aes-gcm' as const, spiIn: [0x1234abcd], spiOut: 0x1234abce, saAgeSeconds: 12 };
    const view = buildStatusView({ version: '1.2.4', hub, peers: [peer('bob', true, { ...esp, esp: 'udp' }), peer('carol', true, { ...esp, esp: 'raw' }), peer('dave', true)], links: [], hubLinks: [], shortcuts: null }, 42);
    expect(view.peers.map((p) => [p.name, p.encryption])).toEqual([['bob', 'ESP aes-gcm in UDP'], ['carol', 'ESP aes-gcm'], ['dave', null]]);
    expect(JSON.stringify(view)).not.toMatch(/1234abc|305441741/);
  });

  it('dates each state: an up member from its session start, a down one from when it was last seen', () => {
    const live = new Map([['bob', { connectedAt: Date.parse('2026-02-03T04:05:06.000Z') }]]);
    const view = buildStatusView({ version: '1.2.4', hub, peers: [peer('bob', true), peer('carol', false)], links: [], hubLinks: [], shortcuts: null }, 0, { live });
    expect(view.peers.map((p) => [p.name, p.since])).toEqual([['bob', '2026-02-03T04:05:06.000Z'], ['carol', '2026-01-01T00:00:00.000Z']]);
  });

  it('names the hub of a cluster serving each member, null for one no hub served', () => {
    const view = buildStatusView({ version: '1.2.4', hub, peers: [peer('bob', true), peer('carol', false)], links: [], hubLinks: [], shortcuts: null }, 0,
      { servingHubs: new Map([['bob', 'hub-b']]) });
    expect(view.peers.map((p) => [p.name, p.hub])).toEqual([['bob', 'hub-b'], ['carol', null]]);
  });

  it('shows a router (reports without a session) as its tunnel\'s liveness says, not down for want of a session', () => {
    // A shell `endpoint` or dyndns2 report: live state over ssh, never a hello, so no software.
    const router = (name: string): PeerStatus => peer(name, false, { transport: 'ssh', software: null, tunnel: `tnl-${name}` });
    const liveness = new Map([
      ['tnl-r-up', { state: 'up' as const, tracked: true, lastHeardAt: Date.parse('2026-03-01T00:00:09.000Z') }],
      ['tnl-r-down', { state: 'down' as const, tracked: true, lastHeardAt: Date.parse('2026-03-01T00:00:01.000Z') }],
      ['tnl-r-untracked', { state: 'up' as const, tracked: false, lastHeardAt: null }],
    ]);
    const live = new Map([['r-up', { connectedAt: Date.parse('2026-03-01T00:00:00.000Z') }]]);
    const status: HubStatus = { version: '1.2.4', hub, peers: [router('r-up'), router('r-down'), router('r-untracked'), router('r-gone'), peer('left', false, { transport: 'ws', software: 'tunnel-client/1.2.3' })], links: [], hubLinks: [], shortcuts: null };
    const view = buildStatusView(status, 0, { live, liveness: (tunnel) => liveness.get(tunnel) });
    expect(view.peers.map((p) => [p.name, p.state, p.router, p.transport, p.since])).toEqual([
      ['r-untracked', 'up', true, null, '2026-01-01T00:00:00.000Z'],
      ['r-up', 'up', true, null, '2026-03-01T00:00:00.000Z'],
      ['left', 'down', false, 'ws', '2026-01-01T00:00:00.000Z'],
      // No tunnel on the hub (none running): down since it was last seen.
      ['r-down', 'down', true, null, '2026-03-01T00:00:01.000Z'],
      ['r-gone', 'down', true, null, '2026-01-01T00:00:00.000Z'],
    ]);
    // Without the running hub's facts (a view built from the registry alone) a router reads down.
    expect(buildStatusView(status, 0).peers.find((p) => p.name === 'r-up')?.state).toBe('down');
  });

  it('carries the routes of a peer\'s tunnel', () => {
    const routed = peer('erin', true, { routes: ['10.7.0.0/24', '10.1.12.0/24'] });
    expect(buildStatusView({ version: '1.2.4', hub, peers: [routed], links: [], hubLinks: [], shortcuts: null }, 0).peers[0]?.routes).toEqual(['10.7.0.0/24', '10.1.12.0/24']);
  });

  it('marks the pairs that are direct: a shortcut both ends verified, not one still verifying nor an operator\'s link', () => {
    const link = (ends: [string, string], kind: PeerLinkStatus['kind'], state: 'verifying' | 'up' | null): PeerLinkStatus => ({
      ends, prefix: '10.1.13.0/30', encap: 'gre', reason: 'public', reachable: true, public: ['203.0.113.10', '192.0.2.20'], kind,
      why: kind === 'shortcut' ? 'rate 3.2 Mbit/s' : null,
      shortcut: state === null ? null : { state, rate: 3_200_000, lastActiveAt: '2026-01-01T00:00:00.000Z', verifiedAt: null, failed: null },
    });
    const links = [link(['bob', 'dave'], 'shortcut', 'up'), link(['bob', 'carol'], 'shortcut', 'up'), link(['carol', 'dave'], 'shortcut', 'verifying'), link(['dave', 'erin'], 'operator', null)];
    const view = buildStatusView({ version: '1.2.4', hub, peers: ['bob', 'carol', 'dave', 'erin'].map((name) => peer(name, true)), links, hubLinks: [], shortcuts: null }, 0);
    expect(Object.fromEntries(view.peers.map((p) => [p.name, p.direct]))).toEqual({ bob: ['carol', 'dave'], carol: ['bob'], dave: ['bob'], erin: [] });
  });
});
