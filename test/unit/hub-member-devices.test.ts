import { describe, expect, it } from 'vitest';
import { validateTunnelSpec, type TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { SHARED_MEMBER_DEVICE, sharedMemberDevice } from '../../server/hub/serve-hub.js';

function spec(overrides: Partial<TunnelSpecInput>) {
  return validateTunnelSpec({ name: 'tnl-alice', encap: 'gre', local: '192.0.2.1', remote: '198.51.100.2', address: '10.1.12.1/30', peerAddress: '10.1.12.2', ...overrides });
}

describe('serve --member-devices: which hub tunnels share the device', () => {
  it('own (the default) and routing none give every tunnel its own device', () => {
    expect(sharedMemberDevice({})).toBeUndefined();
    expect(sharedMemberDevice({ memberDevices: 'own', routing: 'static' })).toBeUndefined();
    expect(sharedMemberDevice({ memberDevices: 'shared', routing: 'none' })).toBeUndefined();
  });

  it('shared with routing static takes member links of every IP encapsulation, not gretap links nor links to other hubs', () => {
    const shared = sharedMemberDevice({ memberDevices: 'shared' })!;
    expect(shared.name).toBe(SHARED_MEMBER_DEVICE);
    expect(shared.name.length).toBeLessThanOrEqual(15);
    expect(shared.takes(spec({}))).toBe(true);
    expect(shared.takes(spec({ encap: 'fou' }))).toBe(true);
    expect(shared.takes(spec({ encap: 'ipip' }))).toBe(true);
    expect(shared.takes(spec({ encap: 'gretap', mac: '02:00:00:00:00:01' }))).toBe(false);
    expect(shared.takes(spec({ name: 'hub-hub2' }))).toBe(false);
  });
});
