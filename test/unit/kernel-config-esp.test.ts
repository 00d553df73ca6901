import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TunnelError } from '../../shared/errors.js';
import type { LinkEspKeys } from '../../shared/kernel-config/link-esp-keys.js';
import type { LinkTable } from '../../shared/kernel-config/link-table.js';
import { KERNEL_CONFIG_TARGETS, renderPeerConfig } from '../../shared/kernel-config/render-peer-config.js';
import { renderOpenwrtEsp } from '../../shared/kernel-config/render-openwrt-esp.js';
import { renderSetkey } from '../../shared/kernel-config/render-setkey.js';
import { renderXfrm } from '../../shared/kernel-config/render-xfrm.js';
import { refusalOf } from '../helpers/error-code.js';

/** A fixture without its `# source:` line (the manual section it follows). */
const sourced = (name: string): string[] => {
  const lines = readFileSync(new URL(`../fixtures/kernel-config/${name}`, import.meta.url), 'utf8').trimEnd().split('\n');
  expect(lines[0]).toMatch(/^# source: \S/);
  return lines.slice(1);
};

const table: LinkTable = {
  prefix: '10.1.12.36/30', encap: 'gre', key: 4660, mtu: 1438,
  ends: [{ name: 'hub', public: '198.51.100.1', inner: '10.1.12.37' }, { name: 'alice', public: '203.0.113.10', inner: '10.1.12.38' }],
};
const hex = (seed: number): string => Array.from({ length: 36 }, (_, i) => ((seed + i * 7) & 0xff).toString(16).padStart(2, '0')).join('');
const esp: LinkEspKeys = { aead: 'aes-gcm', outbound: { spi: 0x1019, keyHex: hex(0x40) }, inbound: { spi: 0x1018, keyHex: hex(0x10) }, path: 'raw' };

/** The TunnelError `fn` throws as one line, `CODE: message`. */
const refusal = (fn: () => unknown): string => {
  const err = refusalOf(fn, TunnelError);
  return `${err.code}: ${err.message}`;
};

describe('ESP for kernel routers', () => {
  it('renders Linux ip xfrm states and policies for GRE (47) and IPIP (4 and 41), no replay window', () => {
    expect(renderXfrm(table, 'alice', esp)).toEqual(sourced('gre-esp-alice.xfrm'));
    expect(renderXfrm({ ...table, encap: 'ipip', key: null, mtu: 1446 }, 'alice', { ...esp, aead: 'chacha20-poly1305' })).toEqual(sourced('ipip-esp-alice.xfrm'));
    expect(renderXfrm(table, 'alice', esp).join('\n')).not.toMatch(/replay-window/);
  });

  it('renders FreeBSD setkey SAs and policies, and an OpenWrt hook that names the WAN address of the moment', () => {
    expect(renderSetkey(table, 'alice', esp)).toEqual(sourced('gre-esp-alice.setkey'));
    expect(renderOpenwrtEsp(table, 'alice', esp, { section: 'tchub' })).toEqual(sourced('gre-esp-alice.openwrt'));
  });

  it('mirrors the two ends: what one seals, the other opens', () => {
    const hubEsp: LinkEspKeys = { ...esp, outbound: esp.inbound, inbound: esp.outbound };
    const [aliceOut, aliceIn] = renderXfrm(table, 'alice', esp);
    const [hubOut, hubIn] = renderXfrm(table, 'hub', hubEsp);
    expect(aliceOut).toBe(hubIn);
    expect(aliceIn).toBe(hubOut);
  });

  it('refuses ESP in UDP, an unknown own address and keys that are not hex, naming the fix and no key byte', () => {
    expect(refusal(() => renderXfrm(table, 'alice', { ...esp, path: 'udp' }))).toMatch(/^ERR_TARGET_UNSUPPORTED: .*ESP in UDP.*peer pin alice --encap gre/);
    expect(refusal(() => renderSetkey(table, 'alice', { ...esp, path: 'udp' }))).toMatch(/^ERR_TARGET_UNSUPPORTED: freebsd/);
    expect(refusal(() => renderOpenwrtEsp(table, 'alice', { ...esp, path: 'udp' }, { section: 'tchub' }))).toMatch(/^ERR_TARGET_UNSUPPORTED: openwrt/);
    const unseen = { ...table, ends: [table.ends[0], { ...table.ends[1], public: null }] } as LinkTable;
    expect(refusal(() => renderXfrm(unseen, 'alice', esp))).toMatch(/^ERR_STATE: .*not known yet/);
    const bad = { ...esp, outbound: { spi: 0x1019, keyHex: `${hex(1).slice(2)};reboot` } };
    const message = refusal(() => renderXfrm(table, 'alice', bad));
    expect(message).toMatch(/^ERR_INVALID_KEY: .*0x00001019/);
    expect(message).not.toContain(hex(1).slice(2, 12));
  });

  it('renders ESP before the tunnel for linux, openwrt and freebsd, and refuses the targets without manual SAs naming why', () => {
    const linux = renderPeerConfig([table], 'alice', 'linux', { esp: [esp] });
    expect(linux).toMatch(/^# link 10\.1\.12\.36\/30 to hub \(gre, key 4660, mtu 1438, encrypted: ESP aes-gcm\)\nip xfrm state add [^]*\nip link add tnl-hub type gre/);
    expect(renderPeerConfig([table], 'alice', 'openwrt', { esp: [esp] })).toMatch(/94-tunnel-hub-esp-tchub[^]*uci batch/);
    expect(renderPeerConfig([table], 'alice', 'freebsd', { esp: [esp] })).toMatch(/setkey -c[^]*ifconfig gre0 create/);
    const refused = { openbsd: /ipsec\.conf/, netbsd: /NetBSD/, routeros: /IKE only/, qnx: /QNX/ } as const;
    for (const [target, why] of Object.entries(refused)) {
      const message = refusal(() => renderPeerConfig([{ ...table, key: null }], 'alice', target as keyof typeof refused, { esp: [esp] }));
      expect(message).toMatch(/^ERR_TARGET_UNSUPPORTED: /);
      expect(message).toMatch(why);
      expect(message).toMatch(/peer set alice --encrypt off/);
    }
    expect(KERNEL_CONFIG_TARGETS.length).toBe(Object.keys(refused).length + 3);
  });

  it('a peer link that cannot take its ESP becomes a comment; a link in the clear renders as before', () => {
    const peerLink: LinkTable = { ...table, prefix: '10.1.12.40/30', ends: [table.ends[1]!, { name: 'bob', public: '203.0.113.20', inner: '10.1.12.42' }] };
    const text = renderPeerConfig([{ ...table, key: null, mtu: 1442 }, peerLink], 'alice', 'linux', { esp: [undefined, { ...esp, path: 'udp' }] });
    expect(text).toMatch(/# link 10\.1\.12\.40\/30 to bob [^\n]*\n# not rendered: ERR_TARGET_UNSUPPORTED: .*ESP in UDP/);
    expect(text.split('\n# link 10.1.12.40')[0]).not.toMatch(/xfrm/);
  });
});
