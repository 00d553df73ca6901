import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HubStatus, PeerStatus } from '../../server/hub/hub-status.js';
import { filterHubStatus, parseFilterText, parsePeerState, peerMatches, type PeerFilterFacts } from '../../server/hub/peer-filter.js';
import { decodeStatusRequest } from '../../server/hub/decode-status-request.js';
import { encodeStatusRequest, type StatusRequest } from '../../server/hub/status-request.js';
import { errorCodeOf } from '../helpers/error-code.js';

const alice: PeerFilterFacts = { name: 'alice', connected: true, inner: '10.1.12.2', endpoints: ['203.0.113.10', '192.168.1.20'] };
const bob: PeerFilterFacts = { name: 'bob', connected: false, inner: '10.1.12.26', endpoints: [null] };
const carol: PeerFilterFacts = { name: 'carol', connected: false, inner: '10.1.12.6', endpoints: ['2001:db8::a'] };

function status(peers: PeerFilterFacts[], links: [string, string][]): HubStatus {
  return {
    version: '1.2.3',
    hub: { running: true, endpoint: '198.51.100.1', pid: 1, wsPort: 8443, sshPort: 2222, hubId: null },
    peers: peers.map((peer) => ({ name: peer.name, connected: peer.connected, inner: peer.inner, endpoint: { seen: peer.endpoints[0] ?? null, reported: peer.endpoints[1] ?? null } }) as PeerStatus),
    links: links.map((ends) => ({ ends, prefix: '10.1.12.8/30', encap: 'gre', reason: 'public', reachable: true, public: [null, null], kind: 'operator', why: null, shortcut: null })),
    hubLinks: [],
    shortcuts: null,
  };
}

describe('peer filters', () => {
  it('select by session state', () => {
    expect([alice, bob, carol].filter((peer) => peerMatches({ state: 'up' }, peer)).map((peer) => peer.name)).toEqual(['alice']);
    expect([alice, bob, carol].filter((peer) => peerMatches({ state: 'down' }, peer)).map((peer) => peer.name)).toEqual(['bob', 'carol']);
    expect([alice, bob, carol].filter((peer) => peerMatches({}, peer))).toHaveLength(3);
  });

  it('select by a part of the name, the inner address or an endpoint, in any case, as a plain substring', () => {
    const names = (text: string): string[] => [alice, bob, carol].filter((peer) => peerMatches({ text }, peer)).map((peer) => peer.name);
    expect(names('AL')).toEqual(['alice']);
    expect(names('10.1.12.2')).toEqual(['alice', 'bob']);
    expect(names('192.168.1.')).toEqual(['alice']);
    expect(names('2001:DB8::')).toEqual(['carol']);
    expect(names('.')).toEqual(['alice', 'bob', 'carol']);
    expect(names('10.1.12.*')).toEqual([]);
    expect([alice, bob].filter((peer) => peerMatches({ state: 'down', text: '10.1.12.2' }, peer)).map((peer) => peer.name)).toEqual(['bob']);
  });

  it('keep, in a status, the peer<->peer links with an end among the peers selected, and everything else as it was', () => {
    const all = status([alice, bob, carol], [['alice', 'bob'], ['bob', 'carol']]);
    const up = filterHubStatus(all, { state: 'up' });
    expect(up.peers.map((peer) => peer.name)).toEqual(['alice']);
    expect(up.links.map((link) => link.ends)).toEqual([['alice', 'bob']]);
    expect(up.hub).toBe(all.hub);
    expect(filterHubStatus(all, { text: 'nobody' })).toMatchObject({ peers: [], links: [] });
    expect(filterHubStatus(all, {})).toBe(all);
  });

  it('refuse a state other than up or down, and an empty, overlong or control-character filter, with ERR_INVALID_ARGUMENT', () => {
    expect(parsePeerState('up')).toBe('up');
    expect(parsePeerState('down')).toBe('down');
    for (const bad of ['UP', 'connected', '', 'up ']) expect(errorCodeOf(() => parsePeerState(bad))).toBe('ERR_INVALID_ARGUMENT');
    expect(parseFilterText('a'.repeat(64))).toHaveLength(64);
    for (const bad of ['', 'a'.repeat(65), 'a\tb', 'a\nb', '\u007f']) expect(errorCodeOf(() => parseFilterText(bad))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('status socket requests', () => {
  it('decode exactly what they encode', () => {
    const requests: StatusRequest[] = [
      { view: 'sessions' }, { view: 'shortcuts' }, { view: 'status', filter: {} }, { view: 'status', filter: { state: 'down' } }, { view: 'status', filter: { state: 'up', text: '10.1.12.' } },
    ];
    for (const request of requests) expect(decodeStatusRequest(encodeStatusRequest(request).trimEnd())).toEqual(request);
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 64 }).filter((text) => !/[\u0000-\u001f\u007f]/.test(text)), (text) => {
      const request: StatusRequest = { view: 'status', filter: { text } };
      expect(decodeStatusRequest(encodeStatusRequest(request).trimEnd())).toEqual(request);
    }));
  });

  it('refuse anything else with ERR_INVALID_ARGUMENT', () => {
    for (const bad of ['', 'status', '{}', '[]', 'null', '{"view":"peers"}', '{"view":"status","state":"sideways"}', '{"view":"status","filter":""}',
      '{"view":"status","filter":7}', '{"view":"status","extra":1}', `{"view":"status","filter":"${'a'.repeat(65)}"}`]) {
      expect({ bad, code: errorCodeOf(() => decodeStatusRequest(bad)) }).toEqual({ bad, code: 'ERR_INVALID_ARGUMENT' });
    }
  });
});
