import { describe, expect, it } from 'vitest';
import { planEncapsulation } from '../../shared/datapath/encapsulation-plan.js';
import { applyTunnelUpdate, validateTunnelSpec, type TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';

const base: TunnelSpecInput = { name: 'tnl0', encap: 'gre', local: '192.0.2.1', remote: '192.0.2.2', address: '10.1.12.38/30', peerAddress: '10.1.12.37' };

describe('validateTunnelSpec', () => {
  it('fills in documented defaults', () => {
    expect(validateTunnelSpec(base)).toMatchObject({ key: null, localPort: 0, remotePort: 0, ttl: 64, mtu: null, keepaliveInterval: 10, keepaliveRetries: 3, address: '10.1.12.38', prefixLength: 30 });
    expect(validateTunnelSpec({ ...base, encap: 'fou' })).toMatchObject({ localPort: 4754, remotePort: 4754 });
    expect(validateTunnelSpec({ ...base, encap: 'gue', port: 7000, remotePort: 7001 })).toMatchObject({ localPort: 7000, remotePort: 7001 });
  });

  it.each([
    [{ name: 'much-too-long-name' }, 'ERR_INVALID_ARGUMENT', /interface name/],
    [{ name: 'a b' }, 'ERR_INVALID_ARGUMENT', /interface name/],
    [{ encap: 'vxlan' }, 'ERR_INVALID_ARGUMENT', /unknown encapsulation/],
    [{ local: '192.0.2' }, 'ERR_INVALID_ADDRESS', /local/],
    [{ remote: '224.0.0.5' }, 'ERR_INVALID_ADDRESS', /not a unicast/],
    [{ key: -1 }, 'ERR_INVALID_ARGUMENT', /key -1 is out of range/],
    [{ key: 2 ** 32 }, 'ERR_INVALID_ARGUMENT', /out of range/],
    [{ encap: 'ipip', key: 1 }, 'ERR_INVALID_ARGUMENT', /--key needs a GRE header/],
    [{ encap: 'gue', key: 1 }, 'ERR_INVALID_ARGUMENT', /--key needs a GRE header/],
    [{ port: 4754 }, 'ERR_INVALID_ARGUMENT', /only applies to fou and gue/],
    [{ encap: 'fou', port: 70000 }, 'ERR_INVALID_ARGUMENT', /port 70000 is out of range/],
    [{ encap: 'fou', remotePort: 0 }, 'ERR_INVALID_ARGUMENT', /out of range/],
    [{ address: '10.1.12.38' }, 'ERR_INVALID_CIDR', /prefix length/],
    [{ address: '10.1.12.36/30' }, 'ERR_INVALID_CIDR', /network or broadcast/],
    [{ address: '10.1.12.38/33' }, 'ERR_INVALID_CIDR', /prefix length/],
    [{ peerAddress: '10.1.12.38' }, 'ERR_INVALID_ADDRESS', /own address/],
    [{ mtu: 100 }, 'ERR_INVALID_ARGUMENT', /mtu 100/],
    [{ mtu: 9000 }, 'ERR_INVALID_ARGUMENT', /mtu 9000/],
    [{ ttl: 0 }, 'ERR_INVALID_ARGUMENT', /ttl/],
    [{ keepaliveInterval: -1 }, 'ERR_INVALID_ARGUMENT', /keepalive interval/],
    [{ keepaliveRetries: 0 }, 'ERR_INVALID_ARGUMENT', /keepalive retries/],
  ])('refuses %j with %s', (patch, code, message) => {
    expect(() => validateTunnelSpec({ ...base, ...(patch as Partial<TunnelSpecInput>) })).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
  });
});

describe('validateTunnelSpec over IPv6', () => {
  const v6: TunnelSpecInput = { ...base, local: '2001:DB8:0:0::1', remote: '2001:db8::0:2' };

  it('takes IPv6 outer addresses, in canonical form, and says which family the path is', () => {
    expect(validateTunnelSpec(v6)).toMatchObject({ local: '2001:db8::1', remote: '2001:db8::2', outerFamily: 6 });
    expect(validateTunnelSpec(base)).toMatchObject({ outerFamily: 4 });
    // A hub-role tunnel without a hint waits on the unspecified address of its family.
    const auth = { bindingId: 1, key: Buffer.alloc(32, 1), role: 'hub' as const };
    expect(validateTunnelSpec({ ...v6, encap: 'fou', remote: undefined, auth })).toMatchObject({ remote: '::', outerFamily: 6 });
  });

  it.each([
    [{ remote: '192.0.2.2' }, /one family/],
    [{ local: '192.0.2.1' }, /one family/],
    [{ local: '::1' }, /loopback/],
    [{ remote: 'fe80::2' }, /linkLocal/],
    [{ remote: 'ff02::5' }, /multicast/],
    [{ remote: '::ffff:192.0.2.2' }, /ipv4Mapped/],
    [{ local: '::' }, /unspecified/],
    [{ remote: 'fe80::2%eth0' }, /not an IPv4 or IPv6 address/],
  ])('refuses %j with ERR_INVALID_ADDRESS', (patch, message) => {
    expect(() => validateTunnelSpec({ ...v6, ...patch })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS', message: expect.stringMatching(message) }));
  });

  it.each([
    [{ encap: 'gre' }, 1456, 'gre', 'gre'],
    [{ encap: 'gre', key: 1 }, 1452, 'gre', 'gre'],
    [{ encap: 'ipip' }, 1460, 'ipip', 'ipv6'],
    [{ encap: 'fou' }, 1448, 'udp', 'udp'],
    [{ encap: 'gue' }, 1448, 'udp', 'udp'],
  ])('plans %j over IPv6: MTU %d, transports %s / %s', (patch, mtu, transport, transport6) => {
    const plan = planEncapsulation(validateTunnelSpec({ ...v6, ...(patch as Partial<TunnelSpecInput>) }));
    expect(plan).toMatchObject({ mtu, transport, transport6 });
    // ip6tnl carries IPv6 too (protocol 41), where a bare IPv4 ipip device does not.
    expect(plan.header6).not.toBeNull();
  });

  it('lowers the MTU to a learned path MTU, also below an MTU the spec asked for', () => {
    expect(planEncapsulation(validateTunnelSpec(v6), 1500, 1400).mtu).toBe(1356);
    expect(planEncapsulation(validateTunnelSpec({ ...v6, mtu: 1300 }), 1500, 1400).mtu).toBe(1300);
    expect(planEncapsulation(validateTunnelSpec({ ...v6, mtu: 1440 }), 1500, 1400).mtu).toBe(1356);
  });
});

describe('applyTunnelUpdate', () => {
  it('keeps unchanged fields, re-derives ports on an encapsulation change and drops a key gue cannot carry', () => {
    const gre = validateTunnelSpec({ ...base, key: 7 });
    const fou = applyTunnelUpdate(gre, { encap: 'fou' });
    expect(fou).toMatchObject({ encap: 'fou', key: 7, localPort: 4754, remotePort: 4754, remote: '192.0.2.2' });
    const moved = applyTunnelUpdate(fou, { remote: '198.51.100.9', remotePort: 40000 });
    expect(moved).toMatchObject({ remote: '198.51.100.9', localPort: 4754, remotePort: 40000, key: 7 });
    expect(applyTunnelUpdate(moved, { encap: 'gue' })).toMatchObject({ key: null, localPort: 6080, remotePort: 6080 });
    expect(applyTunnelUpdate(gre, { key: null }).key).toBeNull();
  });

  it('a move keeps the running source filter and inner addresses; other sources get a new filter, bad ones a coded error', () => {
    const spec = validateTunnelSpec({ ...base, sources: ['10.1.12.37/32', '2001:db8:5::/48'] });
    const moved = applyTunnelUpdate(spec, { remote: '198.51.100.9' });
    expect(moved.sources).toBe(spec.sources);
    expect(moved).toMatchObject({ remote: '198.51.100.9', address: '10.1.12.38', prefixLength: 30, peerAddress: '10.1.12.37' });
    // The hub's specs carry the sources again on every move: the same prefixes keep the same filter.
    expect(applyTunnelUpdate(spec, { remote: '198.51.100.9', sources: ['10.1.12.37/32', '2001:db8:5::/48'] }).sources).toBe(spec.sources);
    const other = applyTunnelUpdate(spec, { sources: ['10.1.12.37/32'] });
    expect(other.sources).not.toBe(spec.sources);
    expect(other.sources?.prefixes).toEqual(['10.1.12.37/32']);
    expect(applyTunnelUpdate(spec, { sources: null }).sources).toBeNull();
    expect(() => applyTunnelUpdate(spec, { sources: ['10.1.12.37/33'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CIDR' }));
  });

  it('refuses fields that need a new interface', () => {
    const spec = validateTunnelSpec(base);
    expect(() => applyTunnelUpdate(spec, { address: '10.0.0.1/30' } as never)).toThrow(/cannot be changed/);
    expect(() => applyTunnelUpdate(spec, { port: 1 })).toThrow(/only applies to fou and gue/);
  });
});

describe('planEncapsulation: the MTU table of shared/datapath/README.md', () => {
  it.each([
    [{ encap: 'gre' }, 1476],
    [{ encap: 'gre', key: 1 }, 1472],
    [{ encap: 'ipip' }, 1480],
    [{ encap: 'fou' }, 1468],
    [{ encap: 'fou', key: 1 }, 1464],
    [{ encap: 'gue' }, 1468],
    [{ encap: 'gre', mtu: 1400 }, 1400],
  ])('%j → %d on a 1500 path', (patch, mtu) => {
    expect(planEncapsulation(validateTunnelSpec({ ...base, ...(patch as Partial<TunnelSpecInput>) })).mtu).toBe(mtu);
  });

  it('derives from the path MTU it is given', () => {
    expect(planEncapsulation(validateTunnelSpec(base), 1400).mtu).toBe(1376);
  });
});
