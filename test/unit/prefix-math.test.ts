import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatIpv4Address, parseIpv4Address } from '../../shared/net/ipv4-address.js';
import { formatIpv4Prefix, parseIpv4Prefix, prefixContains, prefixesOverlap, prefixSize } from '../../shared/net/ipv4-prefix.js';
import { describeLinkSubnet } from '../../shared/net/link-subnet.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import { errorCodeOf } from '../helpers/error-code.js';

describe('IPv4 addresses', () => {
  it('round-trips every 32-bit value', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4Address(formatIpv4Address(n)) === n));
  });

  it('parses the extremes as unsigned integers', () => {
    expect(parseIpv4Address('0.0.0.0')).toBe(0);
    expect(parseIpv4Address('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4Address('10.1.12.37')).toBe(0x0a010c25);
  });

  it.each(['10.1', '10.1.12', '0x0a.1.1.1', '256.1.1.1', '1.2.3.4.5', '', 'alice', '1.2.3.-4'])('refuses %j', (text) => {
    expect(errorCodeOf(() => parseIpv4Address(text))).toBe('ERR_INVALID_ADDRESS');
  });
});

describe('IPv4 prefixes', () => {
  it('parses a network and formats it back', () => {
    expect(parseIpv4Prefix('10.1.12.0/24')).toEqual({ network: 0x0a010c00, length: 24 });
    expect(formatIpv4Prefix(parseIpv4Prefix('10.1.12.36/30'))).toBe('10.1.12.36/30');
    expect(parseIpv4Prefix('0.0.0.0/0')).toEqual({ network: 0, length: 0 });
  });

  it('refuses host bits with a hint naming the network', () => {
    expect(() => parseIpv4Prefix('10.1.12.1/24')).toThrow(/did you mean 10\.1\.12\.0\/24\?/);
    expect(errorCodeOf(() => parseIpv4Prefix('10.1.12.1/24'))).toBe('ERR_INVALID_CIDR');
  });

  it.each(['10.1.12.0', '10.1.12.0/33', '10.1.12.0/', '/24', '10.1.12.0/24/1', '10.1.12.0/x', 'fd00::/64'])('refuses %j', (text) => {
    expect(errorCodeOf(() => parseIpv4Prefix(text))).toBe('ERR_INVALID_CIDR');
  });

  it('agrees with a brute-force overlap and containment check', () => {
    const prefix = fc.integer({ min: 24, max: 32 }).chain((length) =>
      fc.integer({ min: 0, max: 2 ** (length - 24) - 1 }).map((i) => ({ network: 0x0a000000 + i * prefixSize(length), length })));
    fc.assert(fc.property(prefix, prefix, (a, b) => {
      const setA = new Set(Array.from({ length: prefixSize(a.length) }, (_, i) => a.network + i));
      const inB = Array.from({ length: prefixSize(b.length) }, (_, i) => b.network + i);
      expect(prefixesOverlap(a, b)).toBe(inB.some((x) => setA.has(x)));
      expect(prefixContains(a, b)).toBe(inB.every((x) => setA.has(x)));
    }));
  });
});

describe('link subnets', () => {
  it('gives the lower usable address to the first end', () => {
    expect(describeLinkSubnet(parseIpv4Address('10.1.12.36'))).toEqual({
      prefix: '10.1.12.36/30', firstEnd: '10.1.12.37', secondEnd: '10.1.12.38',
    });
  });
});

describe('tunnel interface names', () => {
  it('names short ends plainly', () => {
    expect(tunnelInterfaceName('alice')).toBe('tnl-alice');
    expect(tunnelInterfaceName('hub')).toBe('tnl-hub');
  });

  it('fits long names into 15 bytes, stably and distinctly', () => {
    const a = tunnelInterfaceName('community-router-one');
    const b = tunnelInterfaceName('community-router-two');
    expect(a.length).toBeLessThanOrEqual(15);
    expect(a).toBe(tunnelInterfaceName('community-router-one'));
    expect(a).not.toBe(b);
    expect(a.startsWith('tnl-commun')).toBe(true);
  });
});
