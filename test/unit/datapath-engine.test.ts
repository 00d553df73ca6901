import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DatapathEngine, type DatapathEngineOptions, type PathQuietEvent } from '../../shared/datapath/datapath-engine.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import type { LivenessEvent } from '../../shared/datapath/tunnel-liveness.js';
import { isTunnelError } from '../../shared/errors.js';
import { buildGreKeepalive, decodeGreKeepalive } from '../../shared/wire/gre-keepalive.js';
import { decodeGre } from '../../shared/wire/gre.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { decodeIpv4 } from '../../shared/wire/ipv4.js';
import { decodeUdpKeepalive, encodeUdpKeepalive } from '../../shared/wire/udp-keepalive.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet, ipv6Packet, outerPacket, tcpSynPacket } from '../helpers/test-packets.js';

// Keepalives fall due on the wheel's 100 ms ticks: a clock on a tick boundary makes them due exactly on the interval.
const WHEEL_ALIGNED = 1_700_000_000_000;

const A = '192.0.2.1';
const B = '192.0.2.2';
const C = '192.0.2.3';
const a = ipv4ToNumber(A);
const b = ipv4ToNumber(B);
const c = ipv4ToNumber(C);

function spec(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: 'tnl0', encap: 'gre', local: A, remote: B, address: '10.9.0.1/30', peerAddress: '10.9.0.2', keepaliveInterval: 0, ...overrides };
}

async function setup(...specs: Partial<TunnelSpecInput>[]) {
  return setupWith({}, ...specs);
}

async function setupWith(options: Pick<DatapathEngineOptions, 'passiveKeepalives' | 'onPathQuiet'>, ...specs: Partial<TunnelSpecInput>[]) {
  const io = new FakeDatapathIo();
  const events: LivenessEvent[] = [];
  const engine = new DatapathEngine(io, { ...options, onLiveness: (e) => events.push(e) });
  for (const s of specs) await engine.addTunnel(spec(s));
  return { io, engine, events };
}

const inner = () => ipv4Packet({ src: '10.9.0.1', dst: '10.9.0.2', length: 100 });
const innerBack = () => ipv4Packet({ src: '10.9.0.2', dst: '10.9.0.1', length: 100 });

function greFrame(proto: number, payload: Buffer, key?: number): Buffer {
  const header = Buffer.alloc(key === undefined ? 4 : 8);
  header.writeUInt16BE(key === undefined ? 0 : 0x2000, 0);
  header.writeUInt16BE(proto, 2);
  if (key !== undefined) header.writeUInt32BE(key, 4);
  return Buffer.concat([header, payload]);
}

afterEach(async () => {
  vi.useRealTimers();
});

describe('encapsulation on the TUN → outer path', () => {
  it('gre prepends a 4-byte GRE header and sends to the remote through the raw GRE socket', async () => {
    const { io } = await setup({});
    const packet = inner();
    io.tun('tnl0').deliver({ bytes: packet, addr: 0, port: 0 });
    const [sent] = io.socket(`raw 47 ${A}`).take();
    expect(sent!.addr).toBe(b);
    expect(sent!.bytes.subarray(0, 4).toString('hex')).toBe('00000800');
    expect(sent!.bytes.subarray(4).equals(packet)).toBe(true);
  });

  it('gre with a key puts K and the key in the header; IPv6 gets protocol type 0x86dd', async () => {
    const { io } = await setup({ key: 4660 });
    io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 }, { bytes: ipv6Packet(), addr: 0, port: 0 });
    const sent = io.socket(`raw 47 ${A}`).take();
    expect(sent.map((p) => p.bytes.subarray(0, 8).toString('hex'))).toEqual(['2000080000001234', '200086dd00001234']);
  });

  it('ipip sends the bare packet over protocol 4 and refuses IPv6 (counted, not thrown)', async () => {
    const { io, engine } = await setup({ encap: 'ipip' });
    const packet = inner();
    io.tun('tnl0').deliver({ bytes: packet, addr: 0, port: 0 }, { bytes: ipv6Packet(), addr: 0, port: 0 });
    const sent = io.socket(`raw 4 ${A}`).take();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.bytes.equals(packet)).toBe(true);
    expect(engine.tunnelStatus('tnl0').dropsByReason).toEqual({ 'tx:unsupported-inner': 1 });
  });

  it('fou sends GRE as the UDP payload to the remote port; gue a 4-byte header with protocol 4 or 41', async () => {
    const { io } = await setup({ name: 'f', encap: 'fou', remotePort: 5000 }, { name: 'g', encap: 'gue', remote: C });
    io.tun('f').deliver({ bytes: inner(), addr: 0, port: 0 });
    io.tun('g').deliver({ bytes: inner(), addr: 0, port: 0 }, { bytes: ipv6Packet(), addr: 0, port: 0 });
    const fou = io.socket(`udp ${A}:4754`).take();
    expect(fou.map((p) => [p.addr, p.port, p.bytes.subarray(0, 4).toString('hex')])).toEqual([[b, 5000, '00000800']]);
    const gue = io.socket(`udp ${A}:6080`).take();
    expect(gue.map((p) => [p.addr, p.port, p.bytes.subarray(0, 4).toString('hex')])).toEqual([[c, 6080, '00040000'], [c, 6080, '00290000']]);
  });

  it('counts tx packets and inner bytes, and drops what the socket does not take as queue-full', async () => {
    const { io, engine } = await setup({});
    io.socket(`raw 47 ${A}`).acceptLimit = 2;
    io.tun('tnl0').deliver(...[1, 2, 3].map(() => ({ bytes: inner(), addr: 0, port: 0 })));
    const status = engine.tunnelStatus('tnl0');
    expect(status.tx).toEqual({ packets: 2, bytes: 200, errors: 0, dropped: 1 });
    expect(status.dropsByReason).toEqual({ 'tx:queue-full': 1 });
  });

  it('keeps slots contiguous when a packet in the middle of a batch is dropped', async () => {
    const { io } = await setup({});
    const first = inner();
    const last = ipv4Packet({ src: '10.9.0.1', dst: '10.9.0.2', length: 300 });
    io.tun('tnl0').deliver({ bytes: first, addr: 0, port: 0 }, { bytes: Buffer.from([0x10, 0, 0]), addr: 0, port: 0 }, { bytes: last, addr: 0, port: 0 });
    const sent = io.socket(`raw 47 ${A}`).take();
    expect(sent.map((p) => p.bytes.subarray(4).equals(p === sent[0] ? first : last))).toEqual([true, true]);
  });

  it('passes multicast with TTL 1 untouched: the inner TTL is never copied or decremented', async () => {
    const { io } = await setup({});
    const hello = ipv4Packet({ src: '10.9.0.1', dst: '224.0.0.5', ttl: 1, protocol: 89 });
    io.tun('tnl0').deliver({ bytes: hello, addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${A}`).take()[0]!.bytes.subarray(4).equals(hello)).toBe(true);
    expect(io.calls).toContain(`open raw 47 ${A} ttl 64`);
  });

  it('answers an oversized DF packet with ICMP fragmentation needed (mtu 1476) written back into the TUN', async () => {
    const { io, engine } = await setup({});
    const big = ipv4Packet({ src: '10.9.0.1', dst: '10.9.0.2', protocol: 17, length: 1500, df: true });
    io.tun('tnl0').deliver({ bytes: big, addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${A}`).take()).toHaveLength(0);
    const [reply] = io.tun('tnl0').take();
    const ip = decodeIpv4(reply!.bytes);
    expect(ip.ok && [ip.protocol, ip.src, ip.dst]).toEqual([1, ipv4ToNumber('10.9.0.2'), ipv4ToNumber('10.9.0.1')]);
    expect([reply!.bytes[20], reply!.bytes[21], reply!.bytes.readUInt16BE(26)]).toEqual([3, 4, 1476]);
    expect(engine.tunnelStatus('tnl0').dropsByReason).toEqual({ 'tx:too-big': 1 });
  });

  it('sends an oversized packet without DF (the kernel fragments the outer packet)', async () => {
    const { io } = await setup({});
    io.tun('tnl0').deliver({ bytes: ipv4Packet({ src: '10.9.0.1', dst: '10.9.0.2', length: 1500 }), addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${A}`).take()).toHaveLength(1);
  });

  it('answers an oversized IPv6 packet with ICMPv6 packet too big', async () => {
    const { io } = await setup({ encap: 'fou' });
    io.tun('tnl0').deliver({ bytes: ipv6Packet(1500, 17), addr: 0, port: 0 });
    const [reply] = io.tun('tnl0').take();
    expect([reply!.bytes[0]! >> 4, reply!.bytes[6], reply!.bytes[40], reply!.bytes.readUInt32BE(44)]).toEqual([6, 58, 2, 1468]);
  });

  it('clamps the MSS of TCP SYNs when asked', async () => {
    const { io } = await setup({ mssClamp: true });
    io.tun('tnl0').deliver({ bytes: tcpSynPacket('10.9.0.1', '10.9.0.2', 1460), addr: 0, port: 0 });
    const [sent] = io.socket(`raw 47 ${A}`).take();
    expect(sent!.bytes.readUInt16BE(4 + 20 + 22)).toBe(1436);
  });
});

describe('decapsulation and demultiplexing on the outer → TUN path', () => {
  it('gre: strips outer IPv4 and GRE and writes the inner packet to the TUN, counting rx', async () => {
    const { io, engine } = await setup({});
    const packet = innerBack();
    io.socket(`raw 47 ${A}`).deliver({ bytes: outerPacket(B, A, 47, greFrame(0x0800, packet)), addr: b, port: 0 });
    const [got] = io.tun('tnl0').take();
    expect(got!.bytes.equals(packet)).toBe(true);
    expect(engine.tunnelStatus('tnl0').rx).toEqual({ packets: 1, bytes: 100, errors: 0, dropped: 0 });
  });

  it('demultiplexes GRE by (outer source, key), in one batch, to the right TUNs', async () => {
    const { io, engine } = await setup({ name: 'k1', key: 1 }, { name: 'k2', key: 2, address: '10.9.1.1/30', peerAddress: '10.9.1.2' }, { name: 'c', remote: C, address: '10.9.2.1/30', peerAddress: '10.9.2.2' });
    const p1 = innerBack();
    const p2 = ipv4Packet({ src: '10.9.1.2', dst: '10.9.1.1' });
    const p3 = ipv4Packet({ src: '10.9.2.2', dst: '10.9.2.1' });
    io.socket(`raw 47 ${A}`).deliver(
      { bytes: outerPacket(B, A, 47, greFrame(0x0800, p2, 2)), addr: b, port: 0 },
      { bytes: outerPacket(B, A, 47, greFrame(0x0800, p1, 1)), addr: b, port: 0 },
      { bytes: outerPacket(C, A, 47, greFrame(0x0800, p3)), addr: c, port: 0 },
      { bytes: outerPacket(B, A, 47, greFrame(0x0800, p1, 3)), addr: b, port: 0 },
      { bytes: outerPacket(C, A, 47, greFrame(0x0800, p3, 1)), addr: c, port: 0 },
    );
    expect(io.tun('k1').take().map((p) => p.bytes.equals(p1))).toEqual([true]);
    expect(io.tun('k2').take().map((p) => p.bytes.equals(p2))).toEqual([true]);
    expect(io.tun('c').take().map((p) => p.bytes.equals(p3))).toEqual([true]);
    // Key 3 from B and key 1 from C match nothing: charged as drops to a tunnel of that source.
    const drops = engine.status().map((s) => s.rx.dropped);
    expect(drops.reduce((x, y) => x + y)).toBe(2);
  });

  it('demultiplexes UDP by (source address, source port); a wrong port is an error of that peer', async () => {
    const { io, engine } = await setup({ name: 'p1', encap: 'gue', remotePort: 7001 }, { name: 'p2', encap: 'gue', remotePort: 7002, address: '10.9.1.1/30', peerAddress: '10.9.1.2' });
    const gue = (p: Buffer) => Buffer.concat([Buffer.from('00040000', 'hex'), p]);
    const p1 = innerBack();
    const p2 = ipv4Packet({ src: '10.9.1.2', dst: '10.9.1.1' });
    io.socket(`udp ${A}:6080`).deliver({ bytes: gue(p1), addr: b, port: 7001 }, { bytes: gue(p2), addr: b, port: 7002 }, { bytes: gue(p2), addr: b, port: 7003 }, { bytes: gue(p2), addr: c, port: 7002 });
    expect(io.tun('p1').take().map((p) => p.bytes.equals(p1))).toEqual([true]);
    expect(io.tun('p2').take().map((p) => p.bytes.equals(p2))).toEqual([true]);
    expect(engine.tunnelStatus('p1').dropsByReason).toEqual({ 'rx:wrong-source-port': 1 });
    expect(engine.socketStatus()[0]!.dropsByReason).toEqual({ 'rx:no-tunnel': 1 });
  });

  it('fou: GRE inside UDP, with the key checked; ipip: bare IPv4 after the outer header', async () => {
    const { io } = await setup({ name: 'f', encap: 'fou', key: 9 }, { name: 'i', encap: 'ipip', address: '10.9.1.1/30', peerAddress: '10.9.1.2' });
    const p = innerBack();
    io.socket(`udp ${A}:4754`).deliver({ bytes: greFrame(0x0800, p, 9), addr: b, port: 4754 }, { bytes: greFrame(0x0800, p, 8), addr: b, port: 4754 });
    expect(io.tun('f').take()).toHaveLength(1);
    const q = ipv4Packet({ src: '10.9.1.2', dst: '10.9.1.1' });
    io.socket(`raw 4 ${A}`).deliver({ bytes: outerPacket(B, A, 4, q), addr: b, port: 0 });
    expect(io.tun('i').take()[0]!.bytes.equals(q)).toBe(true);
  });

  it('gue: IPv6 (protocol 41) and GRE inside GUE (Linux gre encap gue) are delivered', async () => {
    const { io } = await setup({ encap: 'gue' });
    const v6 = ipv6Packet();
    io.socket(`udp ${A}:6080`).deliver(
      { bytes: Buffer.concat([Buffer.from('00290000', 'hex'), v6]), addr: b, port: 6080 },
      { bytes: Buffer.concat([Buffer.from('002f0000', 'hex'), greFrame(0x0800, innerBack())]), addr: b, port: 6080 },
    );
    expect(io.tun('tnl0').take().map((p) => p.bytes.length)).toEqual([v6.length, 100]);
  });

  it('counts malformed outer packets as errors and keeps delivering good ones; nothing throws', async () => {
    const { io, engine } = await setup({}, { name: 'u', encap: 'fou', address: '10.9.1.1/30', peerAddress: '10.9.1.2' });
    const good = innerBack();
    const raw = io.socket(`raw 47 ${A}`);
    const garbage = [
      Buffer.alloc(0),
      Buffer.from([0x45, 0, 0]),
      outerPacket(B, A, 47, Buffer.from('0001080000', 'hex')), // GRE version 1
      outerPacket(B, A, 47, Buffer.from('4000080000000000', 'hex')), // routing bit
      outerPacket(B, A, 47, greFrame(0x0800, Buffer.from([0x45, 1, 2]))), // inner truncated
      outerPacket(B, A, 47, greFrame(0x1234, good)), // unknown protocol type
    ];
    expect(() => raw.deliver(...garbage.map((bytes) => ({ bytes, addr: b, port: 0 })), { bytes: outerPacket(B, A, 47, greFrame(0x0800, good)), addr: b, port: 0 })).not.toThrow();
    expect(io.tun('tnl0').take().map((p) => p.bytes.equals(good))).toEqual([true]);
    const status = engine.tunnelStatus('tnl0');
    expect(status.rx.packets).toBe(1);
    expect(status.rx.errors + status.rx.dropped).toBe(garbage.length);
    expect(status.dropsByReason).toMatchObject({ 'rx:truncated': 2, 'rx:bad-version': 1, 'rx:reserved-bits': 1, 'rx:bad-inner': 1, 'rx:unsupported-protocol': 1 });

    const udp = io.socket(`udp ${A}:4754`);
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.alloc(i % 60);
      for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 31 + j * 17) & 0xff;
      udp.deliver({ bytes, addr: b, port: 4754 });
    }
    udp.deliver({ bytes: greFrame(0x0800, ipv4Packet({ src: '10.9.1.2', dst: '10.9.1.1' })), addr: b, port: 4754 });
    const u = engine.tunnelStatus('u');
    expect(u.rx.packets).toBeGreaterThanOrEqual(1);
    expect(u.rx.errors + u.rx.dropped + u.rx.packets).toBe(201);
  });

  it('counts a read failure instead of throwing out of the readiness callback', async () => {
    const { io, engine } = await setup({});
    const raw = io.socket(`raw 47 ${A}`);
    raw.failWith = new Error('EIO');
    expect(() => raw.deliver()).not.toThrow();
    expect(engine.socketStatus()[0]!.dropsByReason).toEqual({ 'rx:io-error': 1 });
  });
});

describe('keepalives and liveness', () => {
  it('gre: sends a Cisco keepalive per interval and goes down after N missed, up on a reply', async () => {
    vi.useFakeTimers({ now: WHEEL_ALIGNED });
    const { io, engine, events } = await setup({ keepaliveInterval: 2, keepaliveRetries: 3 });
    const raw = io.socket(`raw 47 ${A}`);
    expect(engine.tunnelStatus('tnl0').state).toBe('down');
    const probe = raw.take()[0]!;
    expect(probe.addr).toBe(b);
    const gre = decodeGre(probe.bytes);
    expect(gre.ok && gre.protocolType).toBe(0x0800);
    // The peer reflects the inner GRE (type 0) back to us.
    raw.deliver({ bytes: outerPacket(B, A, 47, Buffer.from('00000000', 'hex')), addr: b, port: 0 });
    expect(engine.tunnelStatus('tnl0').state).toBe('up');
    vi.advanceTimersByTime(2000 * 2);
    expect(engine.tunnelStatus('tnl0').state).toBe('up');
    vi.advanceTimersByTime(2000 * 2);
    expect(engine.tunnelStatus('tnl0').state).toBe('down');
    expect(events.map((e) => e.state)).toEqual(['up', 'down']);
    expect(raw.take().length).toBe(4);
  });

  it('pathHeardAt: when the remote was last heard while no interval since went unanswered, else null', async () => {
    vi.useFakeTimers({ now: WHEEL_ALIGNED });
    const { io, engine } = await setup({ keepaliveInterval: 2, keepaliveRetries: 3 });
    const raw = io.socket(`raw 47 ${A}`);
    const answer = () => raw.deliver({ bytes: outerPacket(B, A, 47, Buffer.from('00000000', 'hex')), addr: b, port: 0 });
    expect(engine.pathHeardAt('tnl0')).toBeNull();
    answer();
    expect(engine.pathHeardAt('tnl0')).toBe(WHEEL_ALIGNED);
    vi.advanceTimersByTime(2000);
    answer();
    vi.advanceTimersByTime(2000);
    // The interval's end found it heard.
    expect(engine.pathHeardAt('tnl0')).toBe(WHEEL_ALIGNED + 4000);
    // One interval unanswered: still up, but no longer proof.
    vi.advanceTimersByTime(2000);
    expect(engine.tunnelStatus('tnl0').state).toBe('up');
    expect(engine.pathHeardAt('tnl0')).toBeNull();
    expect(engine.pathHeardAt('tnl-none')).toBeNull();
  });

  describe('passive keepalives (a hub whose members probe on their own)', () => {
    const keepaliveFromB = () => {
      const frame = Buffer.alloc(40);
      return outerPacket(B, A, 47, frame.subarray(0, buildGreKeepalive(frame, 0, { local: b, remote: a })));
    };
    const isOwnProbe = (bytes: Buffer) => {
      const gre = decodeGre(bytes);
      return gre.ok && gre.protocolType === 0x0800;
    };

    it("sends no probe of its own while the remote's keepalives arrive, and stays up", async () => {
      vi.useFakeTimers({ now: WHEEL_ALIGNED });
      const { io, engine, events } = await setupWith({ passiveKeepalives: true }, { keepaliveInterval: 2, keepaliveRetries: 3 });
      const raw = io.socket(`raw 47 ${A}`);
      expect(raw.take().filter((p) => isOwnProbe(p.bytes))).toHaveLength(1);
      for (let interval = 0; interval < 5; interval++) {
        vi.advanceTimersByTime(1000);
        raw.deliver({ bytes: keepaliveFromB(), addr: b, port: 0 });
        vi.advanceTimersByTime(1000);
      }
      const sent = raw.take();
      // Every keepalive of the remote is reflected; none of ours goes out.
      expect(sent.filter((p) => isOwnProbe(p.bytes))).toHaveLength(0);
      expect(sent).toHaveLength(5);
      expect(engine.tunnelStatus('tnl0').state).toBe('up');
      expect(engine.pathHeardAt('tnl0')).toBe(WHEEL_ALIGNED + 10_000);
      expect(events.map((e) => e.state)).toEqual(['up']);
    });

    it('probes as soon as the remote falls silent, counts misses only after that probe, and goes down', async () => {
      vi.useFakeTimers({ now: WHEEL_ALIGNED });
      const { io, engine, events } = await setupWith({ passiveKeepalives: true }, { keepaliveInterval: 2, keepaliveRetries: 3 });
      const raw = io.socket(`raw 47 ${A}`);
      vi.advanceTimersByTime(1000);
      raw.deliver({ bytes: keepaliveFromB(), addr: b, port: 0 });
      vi.advanceTimersByTime(1000);
      // The first probe, then the reflection: the interval after the remote's keepalive goes unprobed.
      expect(raw.take().map((p) => isOwnProbe(p.bytes))).toEqual([true, false]);
      expect(engine.pathHeardAt('tnl0')).toBe(WHEEL_ALIGNED + 2000);
      // The silence that follows is probed, and is not yet a miss; but it proves nothing.
      vi.advanceTimersByTime(2000);
      expect(raw.take().filter((p) => isOwnProbe(p.bytes))).toHaveLength(1);
      expect(engine.tunnelStatus('tnl0')).toMatchObject({ state: 'up', liveness: { missed: 0 } });
      expect(engine.pathHeardAt('tnl0')).toBeNull();
      // Three unanswered probes: down, one interval later than an active end would be.
      vi.advanceTimersByTime(2000 * 3);
      expect(raw.take().filter((p) => isOwnProbe(p.bytes))).toHaveLength(3);
      expect(engine.tunnelStatus('tnl0').state).toBe('down');
      expect(events.map((e) => e.state)).toEqual(['up', 'down']);
    });

    it('keeps probing every interval when only the answers to its own probes arrive', async () => {
      vi.useFakeTimers({ now: WHEEL_ALIGNED });
      const { io, engine } = await setupWith({ passiveKeepalives: true }, { keepaliveInterval: 2, keepaliveRetries: 3 });
      const raw = io.socket(`raw 47 ${A}`);
      let probes = 0;
      for (let interval = 0; interval < 5; interval++) {
        probes += raw.take().filter((p) => isOwnProbe(p.bytes)).length;
        raw.deliver({ bytes: outerPacket(B, A, 47, Buffer.from('00000000', 'hex')), addr: b, port: 0 });
        vi.advanceTimersByTime(2000);
      }
      expect(probes).toBe(5);
      expect(engine.tunnelStatus('tnl0').state).toBe('up');
    });

    it('an engine that is not passive probes every interval whatever the remote sends', async () => {
      vi.useFakeTimers({ now: WHEEL_ALIGNED });
      const { io } = await setup({ keepaliveInterval: 2, keepaliveRetries: 3 });
      const raw = io.socket(`raw 47 ${A}`);
      raw.take();
      for (let interval = 0; interval < 5; interval++) {
        vi.advanceTimersByTime(1000);
        raw.deliver({ bytes: keepaliveFromB(), addr: b, port: 0 });
        vi.advanceTimersByTime(1000);
      }
      expect(raw.take().filter((p) => isOwnProbe(p.bytes))).toHaveLength(5);
    });
  });

  it('onPathQuiet: once when an interval ends with nothing heard after one that heard, and when the tunnel goes down', async () => {
    vi.useFakeTimers({ now: WHEEL_ALIGNED });
    const quiet: PathQuietEvent[] = [];
    const { io, engine } = await setupWith({ onPathQuiet: (event) => quiet.push(event) }, { keepaliveInterval: 2, keepaliveRetries: 3 });
    const raw = io.socket(`raw 47 ${A}`);
    const answer = () => raw.deliver({ bytes: outerPacket(B, A, 47, Buffer.from('00000000', 'hex')), addr: b, port: 0 });
    answer();
    vi.advanceTimersByTime(2000);
    expect(engine.pathHeardAt('tnl0')).toBe(WHEEL_ALIGNED + 2000);
    expect(quiet).toEqual([]);
    // Silent intervals: one event at the first, one more when three misses take it down.
    vi.advanceTimersByTime(2000);
    expect(quiet).toEqual([{ name: 'tnl0', lastHeardAt: WHEEL_ALIGNED + 2000 }]);
    vi.advanceTimersByTime(2000 * 3);
    expect(engine.tunnelStatus('tnl0').state).toBe('down');
    expect(quiet).toEqual([{ name: 'tnl0', lastHeardAt: WHEEL_ALIGNED + 2000 }, { name: 'tnl0', lastHeardAt: WHEEL_ALIGNED + 2000 }]);
    // Heard again, then silent again: one more.
    answer();
    vi.advanceTimersByTime(2000);
    vi.advanceTimersByTime(2000);
    expect(quiet).toHaveLength(3);
  });

  it('publishes liveness changes on the tunnel:datapath:liveness diagnostics channel', async () => {
    const seen: unknown[] = [];
    const listener = (message: unknown) => seen.push(message);
    subscribe('tunnel:datapath:liveness', listener);
    try {
      const { io } = await setup({ keepaliveInterval: 5 });
      io.socket(`raw 47 ${A}`).deliver({ bytes: outerPacket(B, A, 47, greFrame(0x0800, innerBack())), addr: b, port: 0 });
      expect(seen).toEqual([{ name: 'tnl0', state: 'up', missed: 0 }]);
    } finally {
      unsubscribe('tunnel:datapath:liveness', listener);
    }
  });

  it('reflects the keepalives of one received batch in one call, each to its own remote', async () => {
    const { io } = await setup({ key: 5 }, { name: 'tnl1', remote: C, key: 6, address: '10.9.1.1/30', peerAddress: '10.9.1.2' });
    const raw = io.socket(`raw 47 ${A}`);
    const keepaliveFrom = (remote: number, key: number) => {
      const frame = Buffer.alloc(40);
      return frame.subarray(0, buildGreKeepalive(frame, 0, { local: remote, remote: a, key }));
    };
    const writes = vi.spyOn(raw, 'writeBatch');
    raw.deliver(
      { bytes: outerPacket(B, A, 47, keepaliveFrom(b, 5)), addr: b, port: 0 },
      { bytes: outerPacket(C, A, 47, keepaliveFrom(c, 6)), addr: c, port: 0 },
    );
    expect(writes.mock.calls.map(([, count]) => count)).toEqual([2]);
    expect(raw.take().map((packet) => [packet.addr, packet.bytes.toString('hex')])).toEqual([
      [b, '2000000000000005'],
      [c, '2000000000000006'],
    ]);
  });

  it("reflects a peer's Cisco keepalive to the tunnel's remote only", async () => {
    const { io } = await setup({ key: 5 });
    const raw = io.socket(`raw 47 ${A}`);
    const keepalive = Buffer.alloc(40);
    const length = buildGreKeepalive(keepalive, 0, { local: b, remote: a, key: 5 });
    raw.deliver({ bytes: outerPacket(B, A, 47, keepalive.subarray(0, length)), addr: b, port: 0 });
    const [reflected] = raw.take();
    expect(reflected!.addr).toBe(b);
    expect(reflected!.bytes.toString('hex')).toBe('2000000000000005');
    // A forged one asking us to send to a third party is dropped, not reflected.
    const forged = Buffer.alloc(40);
    buildGreKeepalive(forged, 0, { local: c, remote: a, key: 5 });
    raw.deliver({ bytes: outerPacket(B, A, 47, forged.subarray(0, length)), addr: b, port: 0 });
    expect(raw.take()).toHaveLength(0);
    expect(io.tun('tnl0').take()).toHaveLength(0);
  });

  it('fou/gue: probes vary, are echoed by the peer, and the echo gives a round-trip time', async () => {
    vi.useFakeTimers({ now: WHEEL_ALIGNED });
    const { io, engine } = await setup({ name: 'g', encap: 'gue', keepaliveInterval: 1 });
    const udp = io.socket(`udp ${A}:6080`);
    vi.advanceTimersByTime(1000);
    const probes = udp.take();
    expect(probes).toHaveLength(2);
    expect(probes[0]!.bytes.subarray(0, 4).toString('hex')).toBe('20010000');
    const bodies = probes.map((p) => decodeUdpKeepalive(p.bytes, 4, p.bytes.length - 4));
    expect(bodies.every((x) => x.ok && x.kind === 'probe')).toBe(true);
    expect(probes[0]!.bytes.equals(probes[1]!.bytes)).toBe(false);
    // The peer's probe is answered with an echo carrying the same sequence and nonce.
    const peerProbe = Buffer.alloc(20);
    peerProbe.write('20010000', 'hex');
    encodeUdpKeepalive(peerProbe, 4, { kind: 'probe', sequence: 77, nonce: 1234 });
    udp.deliver({ bytes: peerProbe, addr: b, port: 6080 });
    const [echo] = udp.take();
    const echoBody = decodeUdpKeepalive(echo!.bytes, 4, 16);
    expect(echoBody.ok && [echoBody.kind, echoBody.sequence, echoBody.nonce]).toEqual(['echo', 77, 1234]);
    expect(engine.tunnelStatus('g').state).toBe('up');
    // An echo of our last probe yields an RTT.
    const last = bodies[1]!;
    if (!last.ok) throw new Error('probe did not decode');
    vi.advanceTimersByTime(0);
    const ours = Buffer.alloc(20);
    ours.write('20010000', 'hex');
    encodeUdpKeepalive(ours, 4, { kind: 'echo', sequence: last.sequence, nonce: last.nonce });
    udp.deliver({ bytes: ours, addr: b, port: 6080 });
    expect(engine.tunnelStatus('g').liveness.rttMs).not.toBeNull();
  });

  it('ipip and interval 0 track no liveness and read as up', async () => {
    const { engine } = await setup({ name: 'i', encap: 'ipip', keepaliveInterval: 10 }, { name: 'g', remote: C, keepaliveInterval: 0 });
    expect(engine.status().map((s) => [s.state, s.liveness.tracked])).toEqual([['up', false], ['up', false]]);
  });
});

describe('live update', () => {
  it('builds the Cisco keepalive anew when the remote or the key changes', async () => {
    vi.useFakeTimers({ now: WHEEL_ALIGNED });
    const { io, engine } = await setup({ keepaliveInterval: 2, key: 5 });
    const raw = io.socket(`raw 47 ${A}`);
    const probeOf = (packet: { bytes: Buffer }) => {
      const gre = decodeGre(packet.bytes);
      if (!gre.ok) throw new Error('not GRE');
      const inner = decodeGreKeepalive(packet.bytes, gre.payloadOffset, gre.payloadLength);
      if (!inner.ok) throw new Error('not a keepalive');
      return { key: gre.key, src: inner.src, dst: inner.dst, innerKey: inner.key };
    };
    expect(probeOf(raw.take()[0]!)).toEqual({ key: 5, src: b, dst: a, innerKey: 5 });
    vi.advanceTimersByTime(2000);
    expect(probeOf(raw.take()[0]!)).toEqual({ key: 5, src: b, dst: a, innerKey: 5 });
    await engine.update('tnl0', { remote: C, key: 6 });
    vi.advanceTimersByTime(2000);
    const sent = raw.take();
    expect(sent.every((packet) => packet.addr === c)).toBe(true);
    expect(sent.map(probeOf)).toContainEqual({ key: 6, src: c, dst: a, innerKey: 6 });
    expect(sent.map(probeOf).filter((probe) => probe.src !== c || probe.key !== 6)).toEqual([]);
  });

  it('moves a tunnel to a new remote without touching its TUN; the old remote no longer matches', async () => {
    const { io, engine } = await setup({});
    const tun = io.tun('tnl0');
    await engine.update('tnl0', { remote: C });
    expect(io.tuns.get('tnl0')).toBe(tun);
    expect(tun.closed).toBe(false);
    tun.deliver({ bytes: inner(), addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${A}`).take().map((p) => p.addr)).toEqual([c]);
    const raw = io.socket(`raw 47 ${A}`);
    raw.deliver({ bytes: outerPacket(B, A, 47, greFrame(0x0800, innerBack())), addr: b, port: 0 }, { bytes: outerPacket(C, A, 47, greFrame(0x0800, innerBack())), addr: c, port: 0 });
    expect(tun.take()).toHaveLength(1);
    expect(engine.socketStatus()[0]!.dropsByReason).toEqual({ 'rx:no-tunnel': 1 });
  });

  it('switches encapsulation gre → fou: new socket, old one closed, MTU 1476 → 1468, same TUN', async () => {
    const { io, engine } = await setup({});
    const raw = io.socket(`raw 47 ${A}`);
    // It resolves with nothing: a hub moving thousands of tunnels reads no status then.
    await expect(engine.update('tnl0', { encap: 'fou' })).resolves.toBeUndefined();
    expect(engine.tunnelStatus('tnl0').mtu).toBe(1468);
    expect(raw.closed).toBe(true);
    expect(io.calls.filter((call) => call.startsWith('openTun'))).toEqual(['openTun tnl0']);
    expect(io.calls).toContain('mtu tnl0 1468');
    io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    expect(io.socket(`udp ${A}:4754`).take().map((p) => [p.addr, p.port])).toEqual([[b, 4754]]);
  });

  it('moves the local end to a new address (roaming) and keeps counters', async () => {
    const { io, engine } = await setup({ encap: 'fou' });
    io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    await engine.update('tnl0', { local: C, remotePort: 9999 });
    io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    expect(io.socket(`udp ${C}:4754`).take().map((p) => p.port)).toEqual([9999]);
    expect(engine.tunnelStatus('tnl0').tx.packets).toBe(2);
  });

  it('refuses a bad update and leaves the tunnel exactly as it was', async () => {
    const { io, engine } = await setup({ name: 'one' }, { name: 'two', remote: C, address: '10.9.1.1/30', peerAddress: '10.9.1.2' });
    const before = engine.status();
    const calls = io.calls.length;
    for (const [update, code] of [
      [{ remote: C }, 'ERR_TUNNEL_EXISTS'],
      [{ remote: 'nope' }, 'ERR_INVALID_ADDRESS'],
      [{ encap: 'ipip', key: 4 }, 'ERR_INVALID_ARGUMENT'],
      [{ name: 'x' }, 'ERR_INVALID_ARGUMENT'],
      [{ ttl: 9 }, 'ERR_INVALID_CONFIG'],
    ] as const) {
      let caught: unknown;
      try {
        await engine.update('one', update as never);
      } catch (err) {
        caught = err;
      }
      expect(isTunnelError(caught, code), `${JSON.stringify(update)} → ${String(caught)}`).toBe(true);
    }
    await expect(engine.update('missing', { remote: B })).rejects.toThrow(/no tunnel/);
    expect(engine.status()).toEqual(before);
    expect(io.calls.length).toBe(calls);
    io.tun('one').deliver({ bytes: inner(), addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${A}`).take().map((p) => p.addr)).toEqual([b]);
  });
});

describe('adding and removing tunnels', () => {
  it('configures the TUN: MTU, inner address with peer, up', async () => {
    const { io } = await setup({ key: 1 });
    expect(io.calls).toEqual([`open raw 47 ${A} ttl 64`, 'openTun tnl0', 'mtu tnl0 1472', 'addr tnl0 10.9.0.1/30 peer 10.9.0.2', 'up tnl0 true']);
  });

  it('shares one raw socket per local address and one UDP socket per (address, port)', async () => {
    const { io } = await setup({ name: 'a1', key: 1 }, { name: 'a2', key: 2 }, { name: 'u1', encap: 'fou', remotePort: 1 }, { name: 'u2', encap: 'gue', port: 4754, remotePort: 2 });
    expect(io.calls.filter((call) => call.startsWith('open '))).toEqual([`open raw 47 ${A} ttl 64`, `open udp ${A}:4754 ttl 64`]);
  });

  it('refuses a duplicate name or demux key and rolls back a failed TUN, changing nothing', async () => {
    const { io, engine } = await setup({});
    await expect(engine.addTunnel(spec())).rejects.toThrow(expect.objectContaining({ code: 'ERR_TUNNEL_EXISTS' }));
    await expect(engine.addTunnel(spec({ name: 'dup' }))).rejects.toThrow(expect.objectContaining({ code: 'ERR_TUNNEL_EXISTS' }));
    io.failTun.add('bad');
    await expect(engine.addTunnel(spec({ name: 'bad', encap: 'fou' }))).rejects.toThrow(/cannot open/);
    expect(io.socket(`udp ${A}:4754`).closed).toBe(true);
    expect(engine.status().map((s) => s.name)).toEqual(['tnl0']);
    expect(engine.socketStatus().map((s) => s.id)).toEqual([`gre ${A}`]);
  });

  it('removing the last tunnel of a socket closes it and the TUN', async () => {
    const { io, engine } = await setup({ name: 'x1', key: 1 }, { name: 'x2', key: 2 });
    const x1 = io.tun('x1');
    await engine.removeTunnel('x1');
    expect(x1.closed).toBe(true);
    expect(io.socket(`raw 47 ${A}`).closed).toBe(false);
    await engine.close();
    expect(io.socket(`raw 47 ${A}`).closed).toBe(true);
    expect(engine.status()).toEqual([]);
  });
});

describe('tunnelShape: what an upsert compares, without building the status', () => {
  it('is the status\'s device, kind, MAC, inner addresses and outer family, and undefined for a name that does not run', async () => {
    const { engine } = await setup({}, { name: 'tap0', encap: 'gretap', remote: C, address: '10.9.1.1/30', peerAddress: '10.9.1.2', mac: '02:00:00:00:00:07' });
    for (const name of ['tnl0', 'tap0']) {
      const { device, encap, mac, inner, peerInner, outerFamily } = engine.tunnelStatus(name);
      expect(engine.tunnelShape(name)).toEqual({ device, encap, mac, inner, peerInner, outerFamily: outerFamily === 'ipv6' ? 6 : 4 });
    }
    expect(engine.tunnelShape('tnl0')).toEqual({ device: 'tnl0', encap: 'gre', mac: null, inner: '10.9.0.1/30', peerInner: '10.9.0.2', outerFamily: 4 });
    expect(engine.tunnelShape('tnl9')).toBeUndefined();
    await engine.close();
  });
});
