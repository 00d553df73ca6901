import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalPrefix, formatIpPrefix, ipPrefixContains, ipPrefixesOverlap, ipPrefixHas, parseIpPrefix,
} from '../../shared/net/ip-prefix.js';
import { anyIpPrefix } from '../fixtures/ip-prefix-arbitraries.js';

describe('IPv4 and IPv6 prefixes', () => {
  it('round-trips every network through its canonical text', () => {
    fc.assert(fc.property(anyIpPrefix, (prefix) => {
      expect(parseIpPrefix(formatIpPrefix(prefix))).toEqual(prefix);
    }));
  });

  it('spells IPv6 canonically (RFC 5952) and keeps IPv4 as is', () => {
    expect(canonicalPrefix('2001:DB8:0:0::/48')).toBe('2001:db8::/48');
    expect(canonicalPrefix('10.50.2.0/24')).toBe('10.50.2.0/24');
    expect(canonicalPrefix('::/0')).toBe('::/0');
  });

  it.each([
    ['10.50.2.1/24', /did you mean 10\.50\.2\.0\/24/],
    ['2001:db8::1/48', /did you mean 2001:db8::\/48/],
    ['10.50.2.0/33', /not an IPv4 or IPv6 network/],
    ['2001:db8::/129', /not an IPv4 or IPv6 network/],
    ['10.50.2.0', /not an IPv4 or IPv6 network/],
    ['fe80::%eth0/64', /not an IPv4 or IPv6 network/],
    ['010.50.2.0/24', /not an IPv4 or IPv6 network/],
    ['lan/24', /not an IPv4 or IPv6 network/],
    ['', /not an IPv4 or IPv6 network/],
  ])('refuses %j with ERR_INVALID_CIDR', (text, message) => {
    expect(() => parseIpPrefix(text)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CIDR', message: expect.stringMatching(message) }));
  });

  it('overlap is symmetric, and holds exactly when one contains the other', () => {
    fc.assert(fc.property(anyIpPrefix, anyIpPrefix, (a, b) => {
      expect(ipPrefixesOverlap(a, b)).toBe(ipPrefixesOverlap(b, a));
      expect(ipPrefixesOverlap(a, b)).toBe(ipPrefixContains(a, b) || ipPrefixContains(b, a));
    }));
  });

  it('a prefix holds its first and last address and nothing just outside', () => {
    fc.assert(fc.property(anyIpPrefix, (prefix) => {
      const bits = prefix.family === 4 ? 32 : 128;
      const last = prefix.network + (1n << BigInt(bits - prefix.length)) - 1n;
      expect(ipPrefixHas(prefix, prefix.family, prefix.network)).toBe(true);
      expect(ipPrefixHas(prefix, prefix.family, last)).toBe(true);
      if (prefix.network > 0n) expect(ipPrefixHas(prefix, prefix.family, prefix.network - 1n)).toBe(false);
      if (last < (1n << BigInt(bits)) - 1n) expect(ipPrefixHas(prefix, prefix.family, last + 1n)).toBe(false);
    }));
  });

  it('never mixes families', () => {
    expect(ipPrefixesOverlap(parseIpPrefix('0.0.0.0/0'), parseIpPrefix('::/0'))).toBe(false);
  });
});
