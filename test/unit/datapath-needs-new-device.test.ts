import { describe, expect, it } from 'vitest';
import { needsNewDevice } from '../../shared/datapath/upsert-tunnel.js';
import type { TunnelShape } from '../../shared/datapath/tunnel-status.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';

const running = (overrides: Partial<TunnelShape> = {}): TunnelShape => ({
  device: 'tnl-hub', encap: 'gretap', mac: '02:00:00:00:00:01', inner: '10.1.14.2/30', peerInner: '10.1.14.1', outerFamily: 6, ...overrides,
});
const spec = (overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput => ({
  name: 'tnl-hub', encap: 'gretap', local: '2001:db8:113::10', remote: '2001:db8:100::1', address: '10.1.14.2/30', peerAddress: '10.1.14.1',
  mac: '02:00:00:00:00:01', ...overrides,
});

describe('needsNewDevice', () => {
  it('changes a tunnel in place when only its outer addresses move within a family', () => {
    expect(needsNewDevice(running(), spec({ local: '2001:db8:113::11' }))).toBe(false);
    expect(needsNewDevice(running({ encap: 'gre', mac: null, outerFamily: 4 }), spec({ encap: 'gre', mac: undefined, local: '203.0.113.10', remote: '198.51.100.1' }))).toBe(false);
  });

  it('makes a TAP anew when it moves to the other outer family; a TUN moves in place', () => {
    expect(needsNewDevice(running(), spec({ local: '203.0.113.10', remote: '198.51.100.1' }))).toBe(true);
    expect(needsNewDevice(running({ outerFamily: 4 }), spec())).toBe(true);
    expect(needsNewDevice(running({ encap: 'gre', mac: null }), spec({ encap: 'gre', mac: undefined, local: '203.0.113.10', remote: '198.51.100.1' }))).toBe(false);
  });

  it('makes a device anew for another inner address, kind or MAC', () => {
    expect(needsNewDevice(running(), spec({ address: '10.1.14.6/30' }))).toBe(true);
    expect(needsNewDevice(running(), spec({ encap: 'gre', mac: undefined }))).toBe(true);
    expect(needsNewDevice(running(), spec({ mac: '02:00:00:00:00:02' }))).toBe(true);
  });
});
