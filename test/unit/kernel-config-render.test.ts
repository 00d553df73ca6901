import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderIproute2 } from '../../shared/kernel-config/render-iproute2.js';
import { renderIfconfig } from '../../shared/kernel-config/render-ifconfig.js';
import { netmaskOf, type LinkTable } from '../../shared/kernel-config/link-table.js';
import { isTunnelError } from '../../shared/errors.js';

const golden = (name: string) =>
  readFileSync(new URL(`../fixtures/kernel-config/${name}`, import.meta.url), 'utf8').trimEnd().split('\n');

/** The real-world table of seed 001, with the addresses moved into documentation ranges. */
const seedTable = (encap: LinkTable['encap'], key: number | null = 4660): LinkTable => ({
  prefix: '10.1.12.36/30',
  encap,
  key,
  mtu: encap === 'gre' ? 1472 : encap === 'ipip' ? 1480 : 1464,
  ends: [
    { name: 'hub', public: '198.51.100.1', inner: '10.1.12.37' },
    { name: 'alice', public: '203.0.113.10', inner: '10.1.12.38' },
  ],
});

describe('iproute2 rendering', () => {
  it('renders both ends of a keyed GRE link as mirror images', () => {
    expect(renderIproute2(seedTable('gre'), 'alice', { ifname: 'tnl-hub' })).toEqual(golden('gre-alice.iproute2'));
    expect(renderIproute2(seedTable('gre'), 'hub', { ifname: 'tnl-alice' })).toEqual(golden('gre-hub.iproute2'));
  });

  it('renders fou (GRE in UDP) and gue (IPIP in GUE) with a fixed outer TTL', () => {
    expect(renderIproute2(seedTable('fou'), 'alice', { ifname: 'tnl-hub' })).toEqual(golden('fou-alice.iproute2'));
    expect(renderIproute2(seedTable('gue', null), 'alice', { ifname: 'tnl-hub' })).toEqual(golden('gue-alice.iproute2'));
  });

  it('never puts a GRE key on an ipip tunnel and never inherits the TTL', () => {
    const lines = renderIproute2(seedTable('ipip'), 'alice', { ifname: 'tnl-hub' });
    expect(lines[0]).toBe('ip link add tnl-hub type ipip local 203.0.113.10 remote 198.51.100.1 ttl 64');
    expect(lines.join('\n')).not.toMatch(/inherit|key/);
  });

  it('uses local any while this end has no known public address', () => {
    const table = seedTable('gre');
    table.ends[1]!.public = null;
    expect(renderIproute2(table, 'alice', { ifname: 'tnl-hub' })[0]).toContain('local any remote 198.51.100.1');
  });

  it('refuses an unknown remote, a stranger and a bad interface name with coded errors', () => {
    const table = seedTable('gre');
    table.ends[0]!.public = null;
    expect(() => renderIproute2(table, 'alice', { ifname: 'tnl-hub' })).toThrow(/not known yet/);
    expect(() => renderIproute2(seedTable('gre'), 'mallory', { ifname: 'x' })).toThrow(/not an end/);
    try {
      renderIproute2(seedTable('gre'), 'alice', { ifname: 'a name; reboot' });
      expect.unreachable();
    } catch (err) {
      expect(isTunnelError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    }
  });
});

describe('BSD ifconfig rendering', () => {
  it('renders the seed 001 sequence for FreeBSD with a GRE key', () => {
    expect(renderIfconfig(seedTable('gre'), 'alice', { flavor: 'freebsd' })).toEqual(golden('gre-alice.freebsd'));
  });

  it('uses vnetid and the gre.allow sysctl on OpenBSD, gif for ipip', () => {
    expect(renderIfconfig(seedTable('gre'), 'hub', { flavor: 'openbsd' })).toEqual(golden('gre-hub.openbsd'));
    expect(renderIfconfig(seedTable('ipip'), 'alice', { flavor: 'netbsd' })[0]).toBe('ifconfig gif0 create');
  });

  it('refuses what a BSD cannot do, with a reason', () => {
    expect(() => renderIfconfig(seedTable('gre'), 'alice', { flavor: 'netbsd' })).toThrow(/cannot set a GRE key/);
    expect(() => renderIfconfig(seedTable('gue'), 'alice', { flavor: 'freebsd' })).toThrow(/no GUE/);
    expect(() => renderIfconfig(seedTable('fou'), 'alice', { flavor: 'openbsd' })).toThrow(/only FreeBSD/);
    expect(renderIfconfig(seedTable('fou'), 'alice', { flavor: 'freebsd' })).toContain('ifconfig gre0 udpencap udpport 4754');
  });

  it('computes netmasks for the /30 and its neighbours', () => {
    expect(netmaskOf(30)).toBe('255.255.255.252');
    expect(netmaskOf(31)).toBe('255.255.255.254');
    expect(netmaskOf(24)).toBe('255.255.255.0');
    expect(netmaskOf(8)).toBe('255.0.0.0');
  });
});
