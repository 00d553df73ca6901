import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderIproute2 } from '../../shared/kernel-config/render-iproute2.js';
import { renderIfconfig } from '../../shared/kernel-config/render-ifconfig.js';
import { netmaskOf, type LinkTable } from '../../shared/kernel-config/link-table.js';
import { renderDyndnsHotplug } from '../../shared/kernel-config/render-dyndns-hotplug.js';
import { renderOpenwrt } from '../../shared/kernel-config/render-openwrt.js';
import { renderPeerConfig } from '../../shared/kernel-config/render-peer-config.js';
import { renderQnx } from '../../shared/kernel-config/render-qnx.js';
import { renderRouteros } from '../../shared/kernel-config/render-routeros.js';
import { errorCodeOf, refusalOf } from '../helpers/error-code.js';

const golden = (name: string) =>
  readFileSync(new URL(`../fixtures/kernel-config/${name}`, import.meta.url), 'utf8').trimEnd().split('\n');

/** A real-world community-mesh table, with the addresses moved into documentation ranges. */
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
    expect(renderIproute2(seedTable('gre'), 'alice', { ifname: 'tnl-hub' })).toEqual(sourced('gre-alice.iproute2'));
    expect(renderIproute2(seedTable('gre'), 'hub', { ifname: 'tnl-alice' })).toEqual(sourced('gre-hub.iproute2'));
  });

  it('renders fou (GRE in UDP) and gue (IPIP in GUE) with a fixed outer TTL', () => {
    expect(renderIproute2(seedTable('fou'), 'alice', { ifname: 'tnl-hub' })).toEqual(sourced('fou-alice.iproute2'));
    expect(renderIproute2(seedTable('gue', null), 'alice', { ifname: 'tnl-hub' })).toEqual(sourced('gue-alice.iproute2'));
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
    expect(errorCodeOf(() => renderIproute2(seedTable('gre'), 'alice', { ifname: 'a name; reboot' }))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('BSD ifconfig rendering', () => {
  it('renders a community-mesh guide\'s sequence for FreeBSD with a GRE key', () => {
    expect(renderIfconfig(seedTable('gre'), 'alice', { flavor: 'freebsd' })).toEqual(sourced('gre-alice.freebsd'));
  });

  it('uses vnetid and the gre.allow sysctl on OpenBSD, gif for ipip', () => {
    expect(renderIfconfig(seedTable('gre'), 'hub', { flavor: 'openbsd' })).toEqual(sourced('gre-hub.openbsd'));
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

/** A fixture with its `# source:` line (the manual section it follows) left out. */
const sourced = (name: string): string[] => {
  const lines = golden(name);
  expect(lines[0]).toMatch(/^# source: \S/);
  return lines.slice(1);
};

const keyless = (encap: LinkTable['encap']): LinkTable => ({ ...seedTable(encap, null), mtu: encap === 'gre' ? 1476 : encap === 'ipip' ? 1480 : 1468 });

describe('OpenWrt rendering (netifd gre/ipip protocols, uci batch)', () => {
  it('renders a keyless GRE hub link with its static address', () => {
    expect(renderOpenwrt(keyless('gre'), 'alice', { section: 'tchub' })).toEqual(sourced('gre-keyless-alice.openwrt'));
  });

  it('carries the GRE key as ikey and okey, and renders ipip without one', () => {
    expect(renderOpenwrt(seedTable('gre'), 'alice', { section: 'tchub' })).toEqual(sourced('gre-alice.openwrt'));
    expect(renderOpenwrt(keyless('ipip'), 'alice', { section: 'tchub' })).toEqual(sourced('ipip-alice.openwrt'));
  });

  it('refuses FOU and GUE, naming `peer pin`, and a section netifd would overflow', () => {
    expect(refusalOf(() => renderOpenwrt(seedTable('fou'), 'alice', { section: 'tchub' }))).toMatchObject({ code: 'ERR_TARGET_UNSUPPORTED', message: expect.stringMatching(/^openwrt cannot carry fou; run `tunnel-hub peer pin alice --encap gre`/) });
    expect(refusalOf(() => renderOpenwrt(keyless('gue'), 'alice', { section: 'tchub' }))).toMatchObject({ code: 'ERR_TARGET_UNSUPPORTED', message: expect.stringMatching(/gue.*peer pin/) });
    expect(refusalOf(() => renderOpenwrt(keyless('gre'), 'alice', { section: 'a-very-long-name' }))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('prints the update hook for /etc/hotplug.d/iface/', () => {
    expect(renderDyndnsHotplug({ peer: 'alice', url: 'https://198.51.100.1:8443/nic/update' })).toEqual(sourced('hotplug-alice.openwrt'));
  });
});

describe('RouterOS 7 rendering', () => {
  it('renders /interface gre add with keepalive, then /ip address add', () => {
    expect(renderRouteros(keyless('gre'), 'alice', { name: 'tnl-hub' })).toEqual(sourced('gre-keyless-alice.routeros'));
    expect(renderRouteros(keyless('ipip'), 'alice', { name: 'tnl-hub' })).toEqual(sourced('ipip-alice.routeros'));
  });

  it('refuses a GRE key (naming --no-key) and FOU/GUE (naming peer pin)', () => {
    expect(refusalOf(() => renderRouteros(seedTable('gre'), 'alice', { name: 'tnl-hub' }))).toMatchObject({
      code: 'ERR_TARGET_UNSUPPORTED',
      message: 'routeros cannot set a GRE key; run `tunnel-hub peer set alice --no-key` on the hub (the hub then tells this link apart by its source address)',
    });
    expect(refusalOf(() => renderRouteros(keyless('gue'), 'alice', { name: 'tnl-hub' }))).toMatchObject({ code: 'ERR_TARGET_UNSUPPORTED', message: expect.stringMatching(/^routeros cannot carry gue; run `tunnel-hub peer pin alice --encap gre`/) });
  });

  it('names the other peer in the fix for a peer<->peer link', () => {
    const table: LinkTable = { ...seedTable('gre'), ends: [{ name: 'bob', public: '192.0.2.7', inner: '10.1.12.37' }, { name: 'alice', public: '203.0.113.10', inner: '10.1.12.38' }] };
    expect(refusalOf(() => renderRouteros(table, 'alice', { name: 'tnl-bob' })).message).toMatch(/peer pin alice --encap ipip.*only hub links/);
  });
});

describe('QNX rendering (io-pkt gre)', () => {
  it('renders create, tunnel, inet as the QNX GRE note does', () => {
    expect(renderQnx(keyless('gre'), 'alice')).toEqual(sourced('gre-keyless-alice.qnx'));
  });

  it('refuses a key, FOU and GUE with the fix, and an unknown own address', () => {
    expect(refusalOf(() => renderQnx(seedTable('gre'), 'alice'))).toMatchObject({ code: 'ERR_TARGET_UNSUPPORTED', message: expect.stringMatching(/^qnx cannot set a GRE key; run `tunnel-hub peer set alice --no-key`/) });
    expect(refusalOf(() => renderQnx(seedTable('fou'), 'alice'))).toMatchObject({ code: 'ERR_TARGET_UNSUPPORTED', message: expect.stringMatching(/^qnx cannot carry fou/) });
    const unseen = keyless('gre');
    unseen.ends[1]!.public = null;
    expect(refusalOf(() => renderQnx(unseen, 'alice'))).toMatchObject({ code: 'ERR_STATE', message: expect.stringMatching(/"alice".*not known yet/) });
  });
});

describe('whole-peer rendering (peer config NAME TARGET)', () => {
  const peerLink: LinkTable = {
    prefix: '10.1.12.40/30', encap: 'gre', key: 9, mtu: 1472,
    ends: [{ name: 'alice', public: '203.0.113.10', inner: '10.1.12.41' }, { name: 'bob', public: '192.0.2.7', inner: '10.1.12.42' }],
  };

  it('numbers BSD and QNX devices per link and comments a peer link the target cannot carry', () => {
    const qnx = renderPeerConfig([keyless('gre'), peerLink], 'alice', 'qnx');
    expect(qnx).toContain('ifconfig gre0 create');
    expect(qnx).toMatch(/# link 10\.1\.12\.40\/30 to bob \(gre, key 9, mtu 1472\)\n# not rendered: ERR_TARGET_UNSUPPORTED: qnx cannot set a GRE key/);
    const freebsd = renderPeerConfig([seedTable('gre'), peerLink], 'alice', 'freebsd');
    expect(freebsd).toContain('ifconfig gre0 create');
    expect(freebsd).toContain('ifconfig gre1 create');
  });

  it('refuses outright when the hub link cannot be carried', () => {
    expect(refusalOf(() => renderPeerConfig([seedTable('gre')], 'alice', 'routeros'))).toMatchObject({ code: 'ERR_TARGET_UNSUPPORTED', message: expect.stringMatching(/--no-key/) });
  });

  it('wraps OpenWrt links in uci batch and appends the reload and the update hook', () => {
    const text = renderPeerConfig([keyless('gre')], 'alice', 'openwrt', { dyndnsUrl: 'https://198.51.100.1:8443/nic/update' });
    expect(text).toMatch(/^# link 10\.1\.12\.36\/30 to hub \(gre, mtu 1476\)\nuci batch <<'EOF'\nset network\.tchub=interface\n[^]*commit network\nEOF\n\n\/etc\/init\.d\/network reload\n\n# dyndns2 update hook/);
    expect(text.trimEnd().endsWith('EOF')).toBe(true);
  });
});

/** The seed table over IPv6 (EXTRA=v6 addresses of the lab topology). */
const seedTable6 = (encap: LinkTable['encap'], mtu: number, key: number | null = 4660): LinkTable => ({
  ...seedTable(encap, key),
  mtu,
  ends: [
    { name: 'hub', public: '2001:db8:100::1', inner: '10.1.12.37' },
    { name: 'alice', public: '2001:db8:113::10', inner: '10.1.12.38' },
  ],
});

describe('gretap (Ethernet over GRE) rendering', () => {
  const gretap = { ...seedTable('gretap'), mtu: 1458 };

  it('renders Linux gretap, OpenBSD egre(4) and OpenWrt gretap with the key', () => {
    expect(renderIproute2(gretap, 'alice', { ifname: 'tnl-hub' })).toEqual(sourced('gretap-alice.iproute2'));
    expect(renderIfconfig(gretap, 'hub', { flavor: 'openbsd', ifname: 'egre0' })).toEqual(sourced('gretap-hub.openbsd'));
    expect(renderOpenwrt(gretap, 'alice', { section: 'tchub' })).toEqual(sourced('gretap-alice.openwrt'));
  });

  it.each([
    ['freebsd', () => renderIfconfig(gretap, 'alice', { flavor: 'freebsd' })],
    ['netbsd', () => renderIfconfig(gretap, 'alice', { flavor: 'netbsd' })],
    ['routeros', () => renderRouteros(gretap, 'alice', { name: 'tnl-hub' })],
    ['qnx', () => renderQnx(gretap, 'alice')],
  ])('refuses gretap on %s, which has no Ethernet over GRE, naming peer pin', (_target, render) => {
    expect(render).toThrow(expect.objectContaining({ code: 'ERR_TARGET_UNSUPPORTED', message: expect.stringMatching(/peer pin alice --encap gre/) }));
  });

  it('numbers OpenBSD egre devices apart from gre ones in a whole-peer rendering', () => {
    const text = renderPeerConfig([gretap, { ...seedTable('gre'), ends: [gretap.ends[1]!, { name: 'bob', public: '203.0.113.20', inner: '10.1.12.41' }] }], 'alice', 'openbsd');
    expect(text).toContain('ifconfig egre0 create');
    expect(text).toContain('ifconfig gre0 create');
  });
});

describe('rendering over an IPv6 outer path', () => {
  it('renders Linux ip6gre, ip6tnl and ip6gre with fou over IPv6, without the encapsulation limit option', () => {
    expect(renderIproute2(seedTable6('gre', 1452), 'alice', { ifname: 'tnl-hub' })).toEqual(sourced('gre6-alice.iproute2'));
    expect(renderIproute2(seedTable6('ipip', 1460, null), 'alice', { ifname: 'tnl-hub' })).toEqual(sourced('ipip6-alice.iproute2'));
    expect(renderIproute2(seedTable6('fou', 1444), 'alice', { ifname: 'tnl-hub' })).toEqual(sourced('fou6-alice.iproute2'));
    expect(renderIproute2(seedTable6('gretap', 1438), 'alice', { ifname: 'tnl-hub' })[0]).toBe(
      'ip link add tnl-hub type ip6gretap local 2001:db8:113::10 remote 2001:db8:100::1 ttl 64 key 4660 encaplimit none');
  });

  it('renders OpenWrt grev6tap, and the BSD tunnel command with IPv6 addresses', () => {
    expect(renderOpenwrt(seedTable6('gretap', 1438), 'alice', { section: 'tchub' })).toEqual(sourced('gretap6-alice.openwrt'));
    expect(renderOpenwrt(seedTable6('gre', 1452), 'alice', { section: 'tchub' })[1]).toBe("set network.tchub.proto='grev6'");
    expect(renderIfconfig(seedTable6('gre', 1452), 'alice', { flavor: 'freebsd' })).toContain('ifconfig gre0 tunnel 2001:db8:113::10 2001:db8:100::1');
  });

  it.each([
    ['routeros', () => renderRouteros(seedTable6('gre', 1456, null), 'alice', { name: 'tnl-hub' }), /IPv4 outer paths only/],
    ['qnx', () => renderQnx(seedTable6('gre', 1456, null), 'alice'), /IPv4 outer paths only/],
    ['openwrt ipip', () => renderOpenwrt(seedTable6('ipip', 1460, null), 'alice', { section: 'tchub' }), /ipip over IPv6/],
  ])('refuses %s over IPv6 with ERR_TARGET_UNSUPPORTED', (_target, render, message) => {
    expect(render).toThrow(expect.objectContaining({ code: 'ERR_TARGET_UNSUPPORTED', message: expect.stringMatching(message) }));
  });
});
