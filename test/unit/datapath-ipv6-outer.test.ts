import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { findIpv6Key, formatOuterKey, internIpv6Key, outerKeyOf } from '../../shared/datapath/outer-address.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { buildGreKeepalive6 } from '../../shared/wire/gre-keepalive.js';
import { decodeUdpHello, decodeUdpHelloFrame, sealUdpHelloFrame } from '../../shared/wire/udp-hello.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet, ipv6Packet } from '../helpers/test-packets.js';

const A = '2001:db8:a::1';
const B = '2001:db8:b::2';
const bytesOf = (address: string): Buffer => Buffer.from(new Uint8Array(16).map((_, i) => Number(BigInt(`0x${expand(address)}`) >> BigInt(8 * (15 - i)) & 0xffn)));
const KEY = Buffer.alloc(32, 7);

function expand(address: string): string {
  const [head, tail = ''] = address.split('::');
  const parts = (s: string) => (s === '' ? [] : s.split(':'));
  const missing = 8 - parts(head!).length - parts(tail).length;
  return [...parts(head!), ...Array<string>(missing).fill('0'), ...parts(tail)].map((p) => p.padStart(4, '0')).join('');
}

function spec(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: 'tnl6', encap: 'gre', local: A, remote: B, address: '10.9.0.1/30', peerAddress: '10.9.0.2', keepaliveInterval: 0, ...overrides };
}

async function setup(overrides: Partial<TunnelSpecInput> = {}) {
  const io = new FakeDatapathIo();
  const pathMtus: { name: string; pathMtu: number; mtu: number }[] = [];
  const engine = new DatapathEngine(io, { onPathMtu: (event) => pathMtus.push(event) });
  await engine.addTunnel(spec(overrides));
  // The kernel's path MTU toward a new tunnel's remote is read at the end of the turn it was added in.
  await new Promise((resolve) => setImmediate(resolve));
  return { io, engine, pathMtus };
}

const inner = () => ipv4Packet({ src: '10.9.0.1', dst: '10.9.0.2', length: 100 });
const greV4 = (payload: Buffer) => Buffer.concat([Buffer.from('00000800', 'hex'), payload]);

describe('outer keys', () => {
  it('gives IPv4 its own value and each IPv6 address one key above 2^32, found again from its bytes without interning', async () => {
    expect(outerKeyOf('192.0.2.1')).toBe(0xc0000201);
    const key = outerKeyOf('2001:db8::77');
    expect(key).toBeGreaterThanOrEqual(2 ** 32);
    expect(outerKeyOf('2001:DB8:0::77')).toBe(key);
    expect(formatOuterKey(key)).toBe('2001:db8::77');
    expect(findIpv6Key(bytesOf('2001:db8::77'), 0)).toBe(key);
    const stranger = randomBytes(16);
    expect(findIpv6Key(stranger, 0)).toBeUndefined();
    expect(findIpv6Key(stranger, 0)).toBeUndefined();
    const interned = internIpv6Key(stranger, 0);
    expect(findIpv6Key(stranger, 0)).toBe(interned);
  });
});

describe('an IPv6 outer path through the engine', () => {
  it('gre: sends through a raw IPv6 socket with the remote in addrs6, and takes packets from the remote only', async () => {
    const { io, engine } = await setup();
    const socket = io.socket(`raw 47 ${A}`);
    const packet = inner();
    io.tun('tnl6').deliver({ bytes: packet, addr: 0, port: 0 });
    const [sent] = socket.take();
    expect(sent!.addr6!.equals(bytesOf(B))).toBe(true);
    expect(sent!.bytes.equals(greV4(packet))).toBe(true);
    // IPv6 raw sockets read no outer header: the GRE header starts the payload.
    socket.deliver({ bytes: greV4(inner()), addr: 0, port: 0, addr6: bytesOf(B) });
    socket.deliver({ bytes: greV4(inner()), addr: 0, port: 0, addr6: bytesOf('2001:db8:c::3') });
    expect(io.tun('tnl6').take()).toHaveLength(1);
    expect(engine.tunnelStatus('tnl6')).toMatchObject({ outerFamily: 'ipv6', mtu: 1456, rx: { packets: 1 } });
    expect(engine.socketStatus()[0]!.dropsByReason).toEqual({ 'rx:no-tunnel': 1 });
  });

  it('gre: its keepalive is the IPv6 form, and a peer\'s one is reflected only when it names our two addresses', async () => {
    const { io, engine } = await setup({ keepaliveInterval: 5 });
    const socket = io.socket(`raw 47 ${A}`);
    expect(socket.take()[0]!.bytes.subarray(0, 12).toString('hex')).toBe('000086dd6000000000042fff');
    const peers = Buffer.alloc(48);
    buildGreKeepalive6(peers, 0, { local: bytesOf(B), remote: bytesOf(A) });
    socket.deliver({ bytes: peers, addr: 0, port: 0, addr6: bytesOf(B) });
    const [reflected] = socket.take();
    expect(reflected!.bytes.toString('hex')).toBe('00000000');
    expect(reflected!.addr6!.equals(bytesOf(B))).toBe(true);
    const forged = Buffer.alloc(48);
    buildGreKeepalive6(forged, 0, { local: bytesOf('2001:db8:c::3'), remote: bytesOf(A) });
    socket.deliver({ bytes: forged, addr: 0, port: 0, addr6: bytesOf(B) });
    expect(socket.take()).toHaveLength(0);
    expect(engine.tunnelStatus('tnl6').dropsByReason['rx:not-keepalive']).toBe(1);
    await engine.close();
  });

  it('ipip (ip6tnl): IPv4 inside over protocol 4, IPv6 inside over protocol 41, both received', async () => {
    const { io, engine } = await setup({ encap: 'ipip' });
    const v4 = io.socket(`raw 4 ${A}`);
    const v6 = io.socket(`raw 41 ${A}`);
    const packet4 = inner();
    const packet6 = ipv6Packet();
    io.tun('tnl6').deliver({ bytes: packet4, addr: 0, port: 0 }, { bytes: packet6, addr: 0, port: 0 });
    expect(v4.take().map((p) => p.bytes.equals(packet4))).toEqual([true]);
    const [sent6] = v6.take();
    expect(sent6!.bytes.equals(packet6)).toBe(true);
    expect(sent6!.addr6!.equals(bytesOf(B))).toBe(true);
    v4.deliver({ bytes: inner(), addr: 0, port: 0, addr6: bytesOf(B) });
    v6.deliver({ bytes: ipv6Packet(), addr: 0, port: 0, addr6: bytesOf(B) });
    expect(io.tun('tnl6').take()).toHaveLength(2);
    expect(engine.tunnelStatus('tnl6')).toMatchObject({ tx: { packets: 2 }, rx: { packets: 2 }, mtu: 1460 });
    await engine.removeTunnel('tnl6');
    expect(v4.closed && v6.closed).toBe(true);
  });

  it('fou hub end: a forged hello from an unknown IPv6 source leaves no trace; a verified one binds it and the ack carries no view', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(spec({ name: 'hub6', encap: 'fou', remote: undefined, auth: { bindingId: 5, key: KEY, role: 'hub' } }));
    const socket = io.socket(`udp ${A}:4754`);
    const hello = (counter: bigint, key: Buffer): Buffer => {
      const out = Buffer.alloc(64);
      const length = sealUdpHelloFrame(out, 0, { encap: 'fou', greKey: null }, { kind: 'hello', bindingId: 5, counter, view: null }, key);
      return out.subarray(0, length);
    };
    const member = randomBytes(16);
    member[0] = 0x20;
    socket.deliver({ bytes: hello(1n, Buffer.alloc(32, 9)), addr: 0, port: 40000, addr6: member });
    expect(findIpv6Key(member, 0)).toBeUndefined();
    expect(socket.take()).toHaveLength(0);
    socket.deliver({ bytes: hello(2n, KEY), addr: 0, port: 40000, addr6: member });
    const [ack] = socket.take();
    expect(ack!.addr6!.equals(member)).toBe(true);
    expect(ack!.port).toBe(40000);
    const frame = decodeUdpHelloFrame(ack!.bytes, 0, ack!.bytes.length);
    if (!frame.ok) throw new Error('no hello frame');
    expect(decodeUdpHello(ack!.bytes, frame.payloadOffset, frame.payloadLength)).toMatchObject({ kind: 'ack', counter: 2n, view: null });
    expect(engine.tunnelStatus('hub6').binding).toMatchObject({ state: 'bound', port: 40000, address: formatOuterKey(findIpv6Key(member, 0)!) });
    await engine.close();
  });

  it('lowers the MTU when ICMP says the path takes less, never raises it on a larger report, and follows the kernel\'s path MTU', async () => {
    const { io, engine, pathMtus } = await setup({ encap: 'fou' });
    const socket = io.socket(`udp ${A}:4754`);
    socket.pathMtuReports.push({ address: '2001:db8:c::3', mtu: 1300 }, { address: B, mtu: 1400 });
    socket.wake();
    // The new MTU goes to the kernel asynchronously.
    await new Promise((resolve) => setImmediate(resolve));
    expect(engine.tunnelStatus('tnl6')).toMatchObject({ pathMtu: 1400, mtu: 1348 });
    expect(io.calls).toContain('mtu tnl6 1348');
    expect(pathMtus).toEqual([{ name: 'tnl6', pathMtu: 1400, mtu: 1348 }]);
    socket.pathMtuReports.push({ address: B, mtu: 1450 }, { address: B, mtu: 200 });
    socket.wake();
    await new Promise((resolve) => setImmediate(resolve));
    // 1450 is no news; 200 is below IPv6's minimum link MTU and read as 1280.
    expect(engine.tunnelStatus('tnl6')).toMatchObject({ pathMtu: 1280, mtu: 1228 });
    // A new remote is a new path: what was learned is forgotten, and the kernel's view taken.
    io.kernelPathMtu.set(`${A} 2001:db8:d::4`, 1420);
    await engine.update('tnl6', { remote: '2001:db8:d::4' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(engine.tunnelStatus('tnl6')).toMatchObject({ pathMtu: 1420, mtu: 1368 });
    await engine.close();
  });
});
