import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEspHeader, decodeGre, decodeIpv4, encodeGreHeader, GRE_PROTO_IPV4, internetChecksum } from '../../shared/wire/index.js';
import { kernelPeerUnavailableReason, startKernelPeer, type KernelPeer } from '../helpers/kernel-peer.js';
import { createNamespaces, deleteNamespaces, runNodeIn, uniquePrefix } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { ipv4Packet } from '../helpers/test-packets.js';
import { testScript } from '../helpers/test-scripts.js';
import type { EspExchange, EspExchangeConfig } from '../scripts/esp-exchange.js';

const reason = netnsUnavailableReason() ?? kernelPeerUnavailableReason();
if (reason) console.warn(`skipping esp-kernel-interop: ${reason}`);

const HOST = '192.0.2.1';
const GUEST = '192.0.2.2';
const HOST_INNER = '10.50.0.1';
const GUEST_INNER = '10.50.0.2';
const PINGS = 3;

interface Case {
  label: string;
  aead: 'aes-gcm' | 'chacha20-poly1305';
  /** What `ip xfrm state … aead` calls it. */
  xfrmName: string;
  keyBytes: number;
  mode: 'raw' | 'udp';
}

const CASES: Case[] = [
  { label: 'AES-GCM-128, ESP', aead: 'aes-gcm', xfrmName: 'rfc4106(gcm(aes))', keyBytes: 20, mode: 'raw' },
  { label: 'ChaCha20-Poly1305, ESP', aead: 'chacha20-poly1305', xfrmName: 'rfc7539esp(chacha20,poly1305)', keyBytes: 36, mode: 'raw' },
  { label: 'AES-GCM-256, ESP in UDP', aead: 'aes-gcm', xfrmName: 'rfc4106(gcm(aes))', keyBytes: 36, mode: 'udp' },
  { label: 'ChaCha20-Poly1305, ESP in UDP', aead: 'chacha20-poly1305', xfrmName: 'rfc7539esp(chacha20,poly1305)', keyBytes: 36, mode: 'udp' },
];

/** GRE (no key) around an ICMP echo request from the host's inner address to the guest's. */
function greEchoRequest(id: number, sequence: number): Buffer {
  const icmp = Buffer.alloc(64);
  icmp[0] = 8;
  icmp.writeUInt16BE(id, 4);
  icmp.writeUInt16BE(sequence, 6);
  for (let i = 8; i < icmp.length; i++) icmp[i] = i;
  icmp.writeUInt16BE(internetChecksum(icmp, 0, icmp.length), 2);
  const inner = ipv4Packet({ src: HOST_INNER, dst: GUEST_INNER, protocol: 1, payload: icmp });
  const gre = Buffer.alloc(4 + inner.length);
  encodeGreHeader(gre, 0, { protocolType: GRE_PROTO_IPV4 }, inner.length);
  inner.copy(gre, 4);
  return gre;
}

/** The ICMP type, id and sequence of the echo inside a GRE payload, with its inner addresses. */
function echoIn(greHex: string): { type: number; id: number; sequence: number; src: number; dst: number } | null {
  const gre = Buffer.from(greHex, 'hex');
  const header = decodeGre(gre);
  if (!header.ok || header.protocolType !== GRE_PROTO_IPV4) return null;
  const ip = decodeIpv4(gre, header.payloadOffset, header.payloadLength);
  if (!ip.ok || ip.protocol !== 1) return null;
  const icmp = gre.subarray(ip.payloadOffset, ip.payloadOffset + ip.payloadLength);
  return { type: icmp[0]!, id: icmp.readUInt16BE(4), sequence: icmp.readUInt16BE(6), src: ip.src, dst: ip.dst };
}

/** /proc/net/xfrm_stat of the guest as numbers by name. */
async function xfrmStat(guest: KernelPeer): Promise<Record<string, number>> {
  const text = await guest.run('cat /proc/net/xfrm_stat');
  return Object.fromEntries(text.trim().split('\n').map((line) => {
    const [name, value] = line.trim().split(/\s+/);
    return [name!, Number(value)];
  }));
}

// Debian's kernel in qemu as the reference: its own ip_gre tunnel protected by `ip xfrm` in
// transport mode (a policy for protocol 47, both directions), against ESP sealed and opened by
// the addon in the host namespace, on a raw ESP socket and as ESP in UDP, with both AEADs. The
// guest answers our GRE-in-ESP echo requests only if it authenticated and decrypted them, and we
// see its answers only if our open takes what the kernel sealed.
describe.skipIf(reason)('ESP against Linux xfrm (Debian kernel in qemu)', () => {
  const prefix = uniquePrefix();
  const ns = `${prefix}esp`;
  let guest: KernelPeer | undefined;

  beforeAll(async () => {
    createNamespaces([ns]);
    guest = await startKernelPeer({ namespace: ns });
    execFileSync('ip', ['-n', ns, 'addr', 'add', `${HOST}/24`, 'dev', guest.tap], { stdio: 'pipe' });
    console.log(`kernel guest ready in ${String(guest.bootMs)} ms`);
    await guest.run([
      'load-modules esp',
      `ip addr add ${GUEST}/24 dev eth0`,
      `ip tunnel add gre1 mode gre local ${GUEST} remote ${HOST} ttl 64`,
      // No IPv6 on the tunnel: its router solicitations would be GRE-in-ESP nobody asked for.
      'sysctl -qw net.ipv6.conf.gre1.disable_ipv6=1',
      `ip addr add ${GUEST_INNER}/30 dev gre1`,
      'ip link set gre1 up',
      // What an IKE daemon does for NAT traversal: a UDP 4500 socket marked for ESP in UDP.
      'esp-in-udp-socket 4500',
    ].join('\n'));
  });

  afterAll(async () => {
    await guest?.stop();
    deleteNamespaces([ns]);
  });

  it.each(CASES)('$label: the guest answers our sealed GRE echo requests, and we open its answers', async (c) => {
    const hostKey = randomBytes(c.keyBytes).toString('hex');
    const guestKey = randomBytes(c.keyBytes).toString('hex');
    const hostSpi = randomInt(0x1000, 0x7fff_ffff);
    const guestSpi = randomInt(0x1000, 0x7fff_ffff);
    const encap = c.mode === 'udp' ? ' encap espinudp 4500 4500 0.0.0.0' : '';
    const statBefore = await xfrmStat(guest!);
    await guest!.run([
      'ip xfrm state flush',
      'ip xfrm policy flush',
      `ip xfrm state add src ${HOST} dst ${GUEST} proto esp spi ${String(hostSpi)} mode transport replay-window 128 aead '${c.xfrmName}' 0x${hostKey} 128${encap}`,
      `ip xfrm state add src ${GUEST} dst ${HOST} proto esp spi ${String(guestSpi)} mode transport aead '${c.xfrmName}' 0x${guestKey} 128${encap}`,
      `ip xfrm policy add src ${GUEST} dst ${HOST} proto 47 dir out tmpl src ${GUEST} dst ${HOST} proto esp mode transport`,
      `ip xfrm policy add src ${HOST} dst ${GUEST} proto 47 dir in tmpl src ${HOST} dst ${GUEST} proto esp mode transport`,
    ].join('\n'));

    const id = randomInt(1, 0xffff);
    const config: EspExchangeConfig = {
      mode: c.mode, local: HOST, remote: GUEST, port: c.mode === 'udp' ? 4500 : 0, aead: c.aead,
      out: { spi: hostSpi, key: hostKey }, in: { spi: guestSpi, key: guestKey },
      payloads: Array.from({ length: PINGS }, (_, i) => greEchoRequest(id, i + 1).toString('hex')),
      nextHeader: 47, waitMs: 5000, extrasWaitMs: 1000, extras: ['tamper', 'replay', ...(c.mode === 'raw' ? ['cleartext' as const] : [])],
    };
    const exchange = (await runNodeIn(ns, testScript('esp-exchange'), [JSON.stringify(config)])) as EspExchange;

    // What left: our SPI, sequence numbers from 1, one ESP packet per echo request.
    expect(exchange.sent.map((hex) => decodeEspHeader(Buffer.from(hex, 'hex')))).toEqual(
      Array.from({ length: PINGS }, (_, i) => expect.objectContaining({ ok: true, spi: hostSpi, sequence: i + 1 })),
    );
    // What came back: the guest's SPI, opened by us into GRE around the echo replies, in order.
    expect(exchange.received.map((r) => r.outcome)).toEqual(Array(PINGS).fill('ok'));
    expect(exchange.received.map((r) => r.nextHeader)).toEqual(Array(PINGS).fill(47));
    if (c.mode === 'udp') expect(exchange.received.map((r) => r.port)).toEqual(Array(PINGS).fill(4500));
    const replies = exchange.received.map((r) => echoIn(r.payload));
    expect(replies).toEqual(Array.from({ length: PINGS }, (_, i) => ({ type: 0, id, sequence: i + 1, src: 0x0a320002, dst: 0x0a320001 })));
    const headers = exchange.received.map((r) => decodeEspHeader(Buffer.from(r.esp, 'hex')));
    expect(headers.map((h) => (h.ok ? [h.spi, h.sequence] : h))).toEqual(Array.from({ length: PINGS }, (_, i) => [guestSpi, i + 1]));
    // The kernel's seqiv: its explicit IV is its 64-bit sequence number under one random mask per SA.
    const masks = new Set(exchange.received.map((r) => {
      const esp = Buffer.from(r.esp, 'hex');
      return esp.readBigUInt64BE(8) ^ BigInt(esp.readUInt32BE(4));
    }));
    expect(masks.size).toBe(1);

    // A tampered packet (ICV), the first one again (replay window) and, where GRE can be sent
    // bare, cleartext GRE (the inbound policy): the kernel dropped each, and counted it.
    expect(exchange.extrasAnswered).toBe(0);
    expect(exchange.inbound).toEqual({ unknownSpi: 0, truncated: 0, sas: 1 });
    expect(exchange.sealed.sealedPackets).toBe(PINGS + 1);
    const statAfter = await xfrmStat(guest!);
    const grew = (name: string): number => (statAfter[name] ?? 0) - (statBefore[name] ?? 0);
    expect(grew('XfrmInStateProtoError')).toBe(1);
    expect(grew('XfrmInStateSeqError')).toBe(1);
    expect(grew('XfrmInTmplMismatch')).toBe(c.mode === 'raw' ? 1 : 0);
    expect(grew('XfrmInNoStates')).toBe(0);
    const states = await guest!.run('ip -s xfrm state');
    expect(states).toMatch(new RegExp(`spi 0x${hostSpi.toString(16).padStart(8, '0')}[\\s\\S]*?replay-window 0 replay 1 failed 1`));
  });
});
