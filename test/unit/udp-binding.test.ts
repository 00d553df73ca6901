import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import type { BindingEvent } from '../../shared/datapath/udp-binding-event.js';
import { isTunnelError } from '../../shared/errors.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { decodeUdpHello, decodeUdpHelloFrame, sealUdpHelloFrame, verifyUdpHelloMac, type UdpHelloFields } from '../../shared/wire/udp-hello.js';
import { FakeDatapathIo, type FakeEndpoint, type FakePacket } from '../helpers/fake-datapath-io.js';
import { ipv4Packet, outerPacket } from '../helpers/test-packets.js';

// Keepalives fall due on the wheel's 100 ms ticks: a clock on a tick boundary makes them due exactly on the interval.
const WHEEL_ALIGNED = 1_700_000_000_000;

const HUB = '198.51.100.1';
const NAT = '192.0.2.20';
const FORGER = '203.0.113.66';
const hub = ipv4ToNumber(HUB);
const nat = ipv4ToNumber(NAT);
const forger = ipv4ToNumber(FORGER);
const KEY = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
const OTHER_KEY = Buffer.from('ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100', 'hex');
const BINDING = 0x0a0b0c0d;

function hubSpec(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return {
    name: 'hub-c2', encap: 'fou', local: HUB, address: '10.7.0.1/30', peerAddress: '10.7.0.2', keepaliveInterval: 0,
    auth: { bindingId: BINDING, key: KEY, role: 'hub' }, helloInterval: 15, ...overrides,
  };
}

function memberSpec(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return {
    name: 'c2-hub', encap: 'fou', local: '192.168.77.2', remote: HUB, address: '10.7.0.2/30', peerAddress: '10.7.0.1', keepaliveInterval: 0,
    auth: { bindingId: BINDING, key: KEY, role: 'member' }, helloInterval: 15, ...overrides,
  };
}

function hello(counter: bigint, options: { key?: Buffer; bindingId?: number; encap?: 'fou' | 'gue'; greKey?: number | null; kind?: 'hello' | 'ack' } = {}): Buffer {
  const buf = Buffer.alloc(64);
  const fields: UdpHelloFields = { kind: options.kind ?? 'hello', bindingId: options.bindingId ?? BINDING, counter, view: null };
  return buf.subarray(0, sealUdpHelloFrame(buf, 0, { encap: options.encap ?? 'fou', greKey: options.greKey ?? null }, fields, options.key ?? KEY));
}

const fouData = (src: string, dst: string): Buffer => Buffer.concat([Buffer.from('00000800', 'hex'), ipv4Packet({ src, dst, length: 80 })]);
const toPeer = () => ({ bytes: ipv4Packet({ src: '10.7.0.1', dst: '10.7.0.2', length: 100 }), addr: 0, port: 0 });

async function setupHub(overrides: Partial<TunnelSpecInput> = {}) {
  const io = new FakeDatapathIo();
  const events: BindingEvent[] = [];
  const engine = new DatapathEngine(io, { onBinding: (e) => events.push(e) });
  await engine.addTunnel(hubSpec(overrides));
  const socket = io.socket(`udp ${HUB}:${overrides.encap === 'gue' ? 6080 : 4754}`);
  return { io, engine, events, socket, tun: io.tun('hub-c2') };
}

/** Binds the hub tunnel to NAT:port with a valid hello of `counter` and returns the ack the hub sent. */
function bind(socket: FakeEndpoint, port: number, counter: bigint, addr = nat): FakePacket {
  socket.deliver({ bytes: hello(counter), addr, port });
  const sent = socket.take();
  expect(sent).toHaveLength(1);
  return sent[0]!;
}

beforeEach(async () => {
  vi.useFakeTimers({ now: WHEEL_ALIGNED });
});

afterEach(async () => {
  vi.useRealTimers();
});

describe('hub end: binding by authenticated hello', () => {
  it('starts unbound: sends nothing anywhere, counts outbound packets as unbound', async () => {
    const { engine, socket, tun } = await setupHub({ remote: FORGER });
    tun.deliver(toPeer(), toPeer());
    expect(socket.take()).toEqual([]);
    const status = engine.tunnelStatus('hub-c2');
    expect(status.dropsByReason).toEqual({ 'tx:unbound': 2 });
    expect(status.binding).toMatchObject({ role: 'hub', bindingId: BINDING, state: 'unbound', address: null, port: null, counter: '' });
    expect(status.state).toBe('down');
    // The hint is shown, but it is not where anything goes.
    expect(status.remote).toBe(FORGER);
  });

  it('binds on a valid hello, answers with a signed ack to that address:port, and carries data both ways', async () => {
    const { engine, events, socket, tun } = await setupHub();
    const channelEvents: unknown[] = [];
    const listener = (message: unknown) => channelEvents.push(message);
    subscribe('tunnel:datapath:binding', listener);
    try {
      const ack = bind(socket, 40001, 1000n);
      expect([ack.addr, ack.port]).toEqual([nat, 40001]);
      const frame = decodeUdpHelloFrame(ack.bytes, 0, ack.bytes.length);
      expect(frame).toMatchObject({ ok: true, encap: 'fou' });
      const body = decodeUdpHello(ack.bytes, 4, ack.bytes.length - 4);
      expect(body).toMatchObject({ ok: true, kind: 'ack', bindingId: BINDING, counter: 1000n, view: { address: nat, port: 40001 } });
      expect(verifyUdpHelloMac(ack.bytes, 4, KEY)).toBe(true);
    } finally {
      unsubscribe('tunnel:datapath:binding', listener);
    }
    const expected = { name: 'hub-c2', address: NAT, port: 40001, reason: 'bound' };
    expect(events).toEqual([expected]);
    expect(channelEvents).toEqual([expected]);
    const status = engine.tunnelStatus('hub-c2');
    expect(status.binding).toMatchObject({ state: 'bound', address: NAT, port: 40001, counter: '1000', hellos: 1 });
    expect([status.remote, status.remotePort, status.state]).toEqual([NAT, 40001, 'up']);
    tun.deliver(toPeer());
    expect(socket.take().map((p) => [p.addr, p.port])).toEqual([[nat, 40001]]);
    socket.deliver({ bytes: fouData('10.7.0.2', '10.7.0.1'), addr: nat, port: 40001 });
    expect(tun.take()).toHaveLength(1);
  });

  it('moves at once to a new address:port on a valid hello with a higher counter; the old mapping is then unbound', async () => {
    const { engine, events, socket, tun } = await setupHub();
    bind(socket, 40001, 5n);
    const ack = bind(socket, 40002, 6n);
    expect([ack.addr, ack.port]).toEqual([nat, 40002]);
    expect(events.map((e) => e.reason)).toEqual(['bound', 'moved']);
    expect(events[1]).toEqual({ name: 'hub-c2', address: NAT, port: 40002, reason: 'moved', previous: { address: NAT, port: 40001 } });
    tun.deliver(toPeer());
    expect(socket.take().map((p) => p.port)).toEqual([40002]);
    socket.deliver({ bytes: fouData('10.7.0.2', '10.7.0.1'), addr: nat, port: 40001 });
    expect(tun.take()).toEqual([]);
    expect(engine.tunnelStatus('hub-c2').dropsByReason).toEqual({ 'rx:unbound-source': 1 });
    // No TUN was re-created for the move.
    expect(engine.tunnelStatus('hub-c2').binding).toMatchObject({ address: NAT, port: 40002, hellos: 2 });
  });

  it('refuses replayed hellos (same and lower counter) from anywhere: nothing moves, nothing is answered', async () => {
    const { engine, events, socket } = await setupHub();
    const original = hello(100n);
    socket.deliver({ bytes: original, addr: nat, port: 40001 });
    socket.take();
    socket.deliver(
      { bytes: original, addr: forger, port: 4754 },
      { bytes: original, addr: nat, port: 40009 },
      { bytes: hello(99n), addr: forger, port: 4754 },
      { bytes: original, addr: nat, port: 40001 },
    );
    expect(socket.take()).toEqual([]);
    expect(events.map((e) => e.reason)).toEqual(['bound']);
    const status = engine.tunnelStatus('hub-c2');
    expect(status.binding).toMatchObject({ address: NAT, port: 40001, counter: '100' });
    expect(status.dropsByReason).toEqual({ 'rx:hello-replay': 4 });
  });

  it('refuses forged hellos (flipped MAC bit, wrong key, wrong binding id, wrong framing): nothing moves or is answered', async () => {
    const { engine, events, socket } = await setupHub();
    bind(socket, 40001, 1n);
    const flipped = hello(2n);
    flipped[flipped.length - 1]! ^= 0x01;
    socket.deliver(
      { bytes: flipped, addr: forger, port: 4754 },
      { bytes: hello(3n, { key: OTHER_KEY }), addr: forger, port: 4754 },
      { bytes: hello(4n, { bindingId: BINDING + 1 }), addr: forger, port: 4754 },
      { bytes: hello(5n, { encap: 'gue' }), addr: forger, port: 4754 },
      { bytes: hello(6n, { greKey: 77 }), addr: forger, port: 4754 },
      { bytes: hello(7n, { kind: 'ack' }), addr: forger, port: 4754 },
    );
    expect(socket.take()).toEqual([]);
    expect(events.map((e) => e.reason)).toEqual(['bound']);
    expect(engine.tunnelStatus('hub-c2').binding).toMatchObject({ address: NAT, port: 40001, counter: '1' });
    expect(engine.tunnelStatus('hub-c2').dropsByReason).toEqual({ 'rx:hello-bad-mac': 2, 'rx:hello-wrong-encap': 2 });
    // Refusals that name no tunnel of ours are charged to the socket.
    expect(engine.socketStatus()[0]!.dropsByReason).toEqual({ 'rx:hello-unknown-binding': 1, 'rx:hello-unexpected': 1 });
    // The real member's next hello still works: the refused counters did not advance anything.
    bind(socket, 40001, 2n);
  });

  it('refuses truncated and garbage hellos and plain data from unbound sources without answering', async () => {
    const { engine, socket, tun } = await setupHub();
    const truncated = hello(9n).subarray(0, 30);
    socket.deliver(
      { bytes: truncated, addr: forger, port: 1 },
      { bytes: Buffer.from('00000000', 'hex'), addr: forger, port: 2 },
      { bytes: Buffer.from('deadbeef', 'hex'), addr: forger, port: 3 },
      { bytes: fouData('10.7.0.2', '10.7.0.1'), addr: forger, port: 4 },
      { bytes: Buffer.alloc(0), addr: forger, port: 5 },
    );
    expect(socket.take()).toEqual([]);
    expect(tun.take()).toEqual([]);
    expect(engine.socketStatus()[0]!.dropsByReason).toEqual({ 'rx:hello-malformed': 1, 'rx:unbound-source': 4 });
    expect(engine.tunnelStatus('hub-c2').binding!.state).toBe('unbound');
  });

  it('expires a binding after bindingTimeout without a valid hello: stops sending, goes down, rebinds on the next hello', async () => {
    const { engine, events, socket, tun } = await setupHub({ helloInterval: 10, bindingTimeout: 30 });
    bind(socket, 40001, 1n);
    vi.advanceTimersByTime(20_000);
    bind(socket, 40001, 2n);
    // The second hello re-armed the countdown: 29 s later it still holds.
    vi.advanceTimersByTime(29_000);
    expect(engine.tunnelStatus('hub-c2').binding!.state).toBe('bound');
    // Forged hellos do not keep a binding alive.
    socket.deliver({ bytes: hello(3n, { key: OTHER_KEY }), addr: nat, port: 40001 });
    vi.advanceTimersByTime(1_001);
    expect(events.map((e) => e.reason)).toEqual(['bound', 'expired']);
    expect(events[1]).toEqual({ name: 'hub-c2', address: NAT, port: 40001, reason: 'expired' });
    const status = engine.tunnelStatus('hub-c2');
    expect([status.state, status.binding!.state]).toEqual(['down', 'unbound']);
    tun.deliver(toPeer());
    expect(socket.take()).toEqual([]);
    expect(engine.tunnelStatus('hub-c2').dropsByReason['tx:unbound']).toBe(1);
    socket.deliver({ bytes: fouData('10.7.0.2', '10.7.0.1'), addr: nat, port: 40001 });
    expect(tun.take()).toEqual([]);
    bind(socket, 40005, 4n);
    expect(events.map((e) => e.reason)).toEqual(['bound', 'expired', 'bound']);
  });

  it('gue: hellos are control messages of their own type and bind the same way', async () => {
    const { engine, socket } = await setupHub({ encap: 'gue' });
    socket.deliver({ bytes: hello(1n), addr: nat, port: 40001 });
    expect(socket.take()).toEqual([]);
    socket.deliver({ bytes: hello(2n, { encap: 'gue' }), addr: nat, port: 40001 });
    const [ack] = socket.take();
    expect(ack?.bytes.subarray(0, 4).toString('hex')).toBe('20020000');
    expect(engine.tunnelStatus('hub-c2').dropsByReason).toEqual({ 'rx:hello-wrong-encap': 1 });
  });

  it('a verified hello from another hub tunnel’s stale address:port displaces it; a static tunnel’s is refused', async () => {
    const io = new FakeDatapathIo();
    const events: BindingEvent[] = [];
    const engine = new DatapathEngine(io, { onBinding: (e) => events.push(e) });
    await engine.addTunnel(hubSpec());
    await engine.addTunnel(hubSpec({ name: 'hub-c3', address: '10.7.0.5/30', peerAddress: '10.7.0.6', auth: { bindingId: 2, key: OTHER_KEY, role: 'hub' } }));
    await engine.addTunnel({ name: 'static', encap: 'fou', local: HUB, remote: FORGER, remotePort: 4754, address: '10.7.0.9/30', peerAddress: '10.7.0.10', keepaliveInterval: 0 });
    const socket = io.socket(`udp ${HUB}:4754`);
    bind(socket, 40001, 1n);
    socket.deliver({ bytes: hello(1n, { bindingId: 2, key: OTHER_KEY }), addr: nat, port: 40001 });
    expect(socket.take().map((p) => [p.addr, p.port])).toEqual([[nat, 40001]]);
    expect(events.map((e) => [e.name, e.reason])).toEqual([['hub-c2', 'bound'], ['hub-c2', 'displaced'], ['hub-c3', 'bound']]);
    expect(engine.tunnelStatus('hub-c2').binding!.state).toBe('unbound');
    socket.deliver({ bytes: hello(2n, { bindingId: 2, key: OTHER_KEY }), addr: forger, port: 4754 });
    expect(socket.take()).toEqual([]);
    expect(engine.tunnelStatus('hub-c3').dropsByReason).toEqual({ 'rx:hello-address-taken': 1 });
    expect(engine.tunnelStatus('hub-c3').binding).toMatchObject({ address: NAT, port: 40001, counter: '1' });
  });

  it('a static tunnel configured for an address:port a hub tunnel bound by hello takes it over; the hub tunnel is displaced', async () => {
    const io = new FakeDatapathIo();
    const events: BindingEvent[] = [];
    const engine = new DatapathEngine(io, { onBinding: (e) => events.push(e) });
    await engine.addTunnel(hubSpec());
    const socket = io.socket(`udp ${HUB}:4754`);
    // A member's hello from (or forged as) the address:port another hub will send from.
    bind(socket, 4754, 1n, forger);
    await engine.addTunnel({ name: 'hub-hub2', encap: 'fou', local: HUB, remote: FORGER, localPort: 4754, remotePort: 4754, key: 9,
      address: '10.7.0.9/30', peerAddress: '10.7.0.10', keepaliveInterval: 0 });
    expect(events.map((e) => [e.name, e.reason])).toEqual([['hub-c2', 'bound'], ['hub-c2', 'displaced']]);
    expect(engine.tunnelStatus('hub-c2').binding!.state).toBe('unbound');
    // What comes from there now reaches the configured tunnel, and the member cannot claim it back.
    socket.deliver({ bytes: Buffer.concat([Buffer.from('20000800', 'hex'), Buffer.from([0, 0, 0, 9]), ipv4Packet({ src: '10.7.0.10', dst: '10.7.0.9', length: 80 })]), addr: forger, port: 4754 });
    expect(io.tun('hub-hub2').take()).toHaveLength(1);
    socket.deliver({ bytes: hello(2n), addr: forger, port: 4754 });
    expect(socket.take()).toEqual([]);
    expect(engine.tunnelStatus('hub-c2').binding).toMatchObject({ state: 'unbound', counter: '1' });
    expect(events).toHaveLength(2);
  });

  it('keeps the binding across a re-key (new session) and refuses hellos signed with the old key', async () => {
    const { engine, events, socket } = await setupHub();
    bind(socket, 40001, 500n);
    await engine.update('hub-c2', { auth: { bindingId: BINDING, key: OTHER_KEY, role: 'hub' } });
    expect(engine.tunnelStatus('hub-c2').binding).toMatchObject({ state: 'bound', address: NAT, port: 40001, counter: '' });
    socket.deliver({ bytes: hello(501n), addr: nat, port: 40002 });
    expect(socket.take()).toEqual([]);
    // The new session's counter may start anywhere: counters are per key.
    socket.deliver({ bytes: hello(1n, { key: OTHER_KEY }), addr: nat, port: 40002 });
    expect(socket.take()).toHaveLength(1);
    expect(events.map((e) => e.reason)).toEqual(['bound', 'moved']);
    // A change of encapsulation is a new socket and a new NAT mapping: the binding is reset.
    await engine.update('hub-c2', { encap: 'gue' });
    expect(events.map((e) => e.reason)).toEqual(['bound', 'moved', 'reset']);
    expect(engine.tunnelStatus('hub-c2').binding!.state).toBe('unbound');
  });
});

describe('spec checks for auth', () => {
  it('refuses keys of the wrong length with ERR_INVALID_KEY, naming no key byte, and leaves the engine as it was', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    for (const key of [Buffer.alloc(15, 0xab), Buffer.alloc(65, 0xab), Buffer.alloc(0)]) {
      let caught: unknown;
      try {
        await engine.addTunnel(hubSpec({ auth: { bindingId: 1, key, role: 'hub' } }));
      } catch (err) {
        caught = err;
      }
      expect(isTunnelError(caught, 'ERR_INVALID_KEY')).toBe(true);
      expect(String((caught as Error).message)).not.toMatch(/ab/i);
    }
    expect(engine.status()).toEqual([]);
    expect(io.calls).toEqual([]);
  });

  it('refuses auth on gre/ipip, a bad role or binding id, and a binding id already on the socket', async () => {
    const engine = new DatapathEngine(new FakeDatapathIo());
    await expect(engine.addTunnel(hubSpec({ encap: 'gre' }))).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    await expect(engine.addTunnel(hubSpec({ auth: { bindingId: 1, key: KEY, role: 'boss' as 'hub' } }))).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    await expect(engine.addTunnel(hubSpec({ auth: { bindingId: -1, key: KEY, role: 'hub' } }))).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    await expect(engine.addTunnel(hubSpec({ bindingTimeout: 10, helloInterval: 15 }))).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    await expect(engine.addTunnel(memberSpec({ remote: undefined }))).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }));
    await engine.addTunnel(hubSpec());
    await expect(engine.addTunnel(hubSpec({ name: 'other', address: '10.7.0.5/30', peerAddress: '10.7.0.6' }))).rejects.toThrow(expect.objectContaining({ code: 'ERR_TUNNEL_EXISTS' }));
    expect(engine.status().map((s) => s.name)).toEqual(['hub-c2']);
  });

  it('never shows the key in status, and keeps its own copy of it', async () => {
    const key = Buffer.from(KEY);
    const { engine, socket } = await setupHub({ auth: { bindingId: BINDING, key, role: 'hub' } });
    key.fill(0);
    bind(socket, 40001, 1n);
    const text = JSON.stringify(engine.status());
    expect(text).not.toContain(KEY.toString('hex'));
    expect(text).not.toContain(KEY.toString('base64'));
    expect(text).not.toContain(KEY.toString('base64url'));
  });
});

describe('member end', () => {
  async function setupMember(overrides: Partial<TunnelSpecInput> = {}) {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(memberSpec(overrides));
    return { io, engine, socket: io.socket(`udp 192.168.77.2:${overrides.encap === 'gue' ? 6080 : 4754}`), tun: io.tun('c2-hub') };
  }

  function decodeSent(packet: FakePacket) {
    const frame = decodeUdpHelloFrame(packet.bytes, 0, packet.bytes.length);
    if (!frame.ok) throw new Error('not a hello frame');
    const body = decodeUdpHello(packet.bytes, frame.payloadOffset, frame.payloadLength);
    if (!body.ok) throw new Error('not a hello body');
    expect(verifyUdpHelloMac(packet.bytes, frame.payloadOffset, KEY)).toBe(true);
    return body;
  }

  function ackFor(counter: bigint, key = KEY, port = 40001): Buffer {
    const buf = Buffer.alloc(64);
    return buf.subarray(0, sealUdpHelloFrame(buf, 0, { encap: 'fou', greKey: null }, { kind: 'ack', bindingId: BINDING, counter, view: { address: nat, port } }, key));
  }

  it('says hello at once, signed, with its own view, from the tunnel socket to the hub', async () => {
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const { socket } = await setupMember();
    const [sent] = socket.take();
    expect([sent!.addr, sent!.port]).toEqual([hub, 4754]);
    const body = decodeSent(sent!);
    expect(body).toMatchObject({ kind: 'hello', bindingId: BINDING, view: { address: ipv4ToNumber('192.168.77.2'), port: 4754 } });
    // The first counter is the wall clock in microseconds: a restarted member starts above its old counters.
    expect(body.counter).toBe(BigInt(Date.parse('2030-01-01T00:00:00Z')) * 1000n);
  });

  it('resends after 300 ms without an ack, backing off 300 → 600 → 1200 ms with strictly increasing counters; an ack stops it', async () => {
    const { engine, socket } = await setupMember();
    const counters = [decodeSent(socket.take()[0]!).counter];
    vi.advanceTimersByTime(299);
    expect(socket.take()).toEqual([]);
    vi.advanceTimersByTime(1);
    counters.push(decodeSent(socket.take()[0]!).counter);
    vi.advanceTimersByTime(599);
    expect(socket.take()).toEqual([]);
    vi.advanceTimersByTime(1);
    counters.push(decodeSent(socket.take()[0]!).counter);
    vi.advanceTimersByTime(1200);
    counters.push(decodeSent(socket.take()[0]!).counter);
    for (let i = 1; i < counters.length; i++) expect(counters[i]! > counters[i - 1]!).toBe(true);
    expect(engine.tunnelStatus('c2-hub').binding!.state).toBe('waiting');
    // An ack of an earlier hello still proves the path.
    socket.deliver({ bytes: ackFor(counters[2]!), addr: hub, port: 4754 });
    const status = engine.tunnelStatus('c2-hub');
    expect(status.binding).toMatchObject({ role: 'member', state: 'acked', address: NAT, port: 40001 });
    expect(status.state).toBe('up');
    // Then one hello per interval (15 s from the start; 2.1 s have passed).
    vi.advanceTimersByTime(12_899);
    expect(socket.take()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(socket.take()).toHaveLength(1);
  });

  it('ignores forged, replayed and unsolicited acks and never answers one', async () => {
    const { engine, socket } = await setupMember();
    const first = decodeSent(socket.take()[0]!).counter;
    socket.deliver(
      { bytes: ackFor(first, OTHER_KEY), addr: hub, port: 4754 },
      { bytes: ackFor(first + 1000n), addr: hub, port: 4754 },
      { bytes: hello(first + 1n), addr: hub, port: 4754 },
    );
    expect(engine.tunnelStatus('c2-hub').binding!.state).toBe('waiting');
    socket.deliver({ bytes: ackFor(first), addr: hub, port: 4754 }, { bytes: ackFor(first), addr: hub, port: 4754 });
    expect(socket.take()).toEqual([]);
    expect(engine.tunnelStatus('c2-hub').dropsByReason).toEqual({ 'rx:hello-bad-mac': 1, 'rx:hello-replay': 2, 'rx:hello-unexpected': 1 });
    expect(engine.tunnelStatus('c2-hub').binding!.state).toBe('acked');
  });

  it('says hello at once when it sends data but has heard nothing for 300 ms (a NAT re-mapping)', async () => {
    const { socket, tun } = await setupMember();
    const first = decodeSent(socket.take()[0]!).counter;
    socket.deliver({ bytes: ackFor(first), addr: hub, port: 4754 });
    vi.advanceTimersByTime(200);
    tun.deliver({ bytes: ipv4Packet({ src: '10.7.0.2', dst: '10.7.0.1', length: 80 }), addr: 0, port: 0 });
    expect(socket.take()).toHaveLength(1);
    vi.advanceTimersByTime(200);
    tun.deliver({ bytes: ipv4Packet({ src: '10.7.0.2', dst: '10.7.0.1', length: 80 }), addr: 0, port: 0 });
    const sent = socket.take();
    expect(sent).toHaveLength(2);
    expect(decodeSent(sent[1]!).counter > first).toBe(true);
  });
});

describe('member end: liveness miss', () => {
  it('says hello at once after a keepalive interval with nothing heard', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(memberSpec({ keepaliveInterval: 2 }));
    const socket = io.socket('udp 192.168.77.2:4754');
    const isHello = (p: FakePacket) => decodeUdpHelloFrame(p.bytes, 0, p.bytes.length).ok;
    const [first] = socket.take().filter(isHello);
    const body = decodeUdpHello(first!.bytes, 4, 44);
    if (!body.ok) throw new Error('no hello');
    const buf = Buffer.alloc(64);
    const ack = buf.subarray(0, sealUdpHelloFrame(buf, 0, { encap: 'fou', greKey: null }, { kind: 'ack', bindingId: BINDING, counter: body.counter, view: null }, KEY));
    socket.deliver({ bytes: ack, addr: hub, port: 4754 });
    // The first tick finds the ack heard; the second finds nothing and says hello with the keepalive.
    vi.advanceTimersByTime(2_000);
    expect(socket.take().filter(isHello)).toEqual([]);
    vi.advanceTimersByTime(2_000);
    expect(socket.take().filter(isHello)).toHaveLength(1);
    await engine.close();
  });
});

describe('member and hub engines through a fake NAT', () => {
  it('bind, re-map the NAT port, recover by the member’s next hello; probes answer true, and false with the hub gone', async () => {
    const hubIo = new FakeDatapathIo();
    const memberIo = new FakeDatapathIo();
    const events: BindingEvent[] = [];
    const hubEngine = new DatapathEngine(hubIo, { onBinding: (e) => events.push(e) });
    const memberEngine = new DatapathEngine(memberIo);
    await hubEngine.addTunnel(hubSpec());
    await memberEngine.addTunnel(memberSpec());
    const hubSocket = hubIo.socket(`udp ${HUB}:4754`);
    const memberSocket = memberIo.socket('udp 192.168.77.2:4754');
    let natPort = 40001;
    let hubAway = false;
    const pump = (): void => {
      for (let round = 0; round < 10; round++) {
        const up = memberSocket.take();
        const down = hubSocket.take().filter((p) => p.addr === nat && p.port === natPort);
        if (up.length === 0 && down.length === 0) return;
        if (!hubAway && up.length > 0) hubSocket.deliver(...up.map((p) => ({ bytes: p.bytes, addr: nat, port: natPort })));
        if (down.length > 0) memberSocket.deliver(...down.map((p) => ({ bytes: p.bytes, addr: hub, port: 4754 })));
      }
    };
    pump();
    expect(events.map((e) => [e.reason, e.port])).toEqual([['bound', 40001]]);
    expect(memberEngine.tunnelStatus('c2-hub').binding!.state).toBe('acked');
    const ping = () => memberIo.tun('c2-hub').deliver({ bytes: ipv4Packet({ src: '10.7.0.2', dst: '10.7.0.1', length: 80 }), addr: 0, port: 0 });
    ping();
    pump();
    expect(hubIo.tun('hub-c2').take()).toHaveLength(1);
    // The NAT forgets the mapping and picks another port.
    natPort = 50002;
    vi.advanceTimersByTime(350);
    ping();
    pump();
    expect(events.map((e) => [e.reason, e.port])).toEqual([['bound', 40001], ['moved', 50002]]);
    expect(hubEngine.tunnelStatus('hub-c2').dropsByReason).toEqual({ 'rx:unbound-source': 1 });
    hubIo.tun('hub-c2').take();
    ping();
    pump();
    expect(hubIo.tun('hub-c2').take()).toHaveLength(1);

    const answered = memberEngine.probe('c2-hub', { timeoutMs: 500 });
    pump();
    await expect(answered).resolves.toBe(true);
    hubAway = true;
    const unanswered = memberEngine.probe('c2-hub', { timeoutMs: 500 });
    pump();
    vi.advanceTimersByTime(500);
    await expect(unanswered).resolves.toBe(false);
    hubEngine.close();
    memberEngine.close();
  });
});

/** Two engines on fakes with one tunnel each, 192.0.2.1 <-> 192.0.2.2, no keepalive timer. */
async function facingEngines(encap: 'gre' | 'fou', nameA: string, nameB: string) {
  const aIo = new FakeDatapathIo();
  const bIo = new FakeDatapathIo();
  const a = new DatapathEngine(aIo);
  const b = new DatapathEngine(bIo);
  await a.addTunnel({ name: nameA, encap, local: '192.0.2.1', remote: '192.0.2.2', address: '10.8.0.1/30', peerAddress: '10.8.0.2', keepaliveInterval: 0 });
  await b.addTunnel({ name: nameB, encap, local: '192.0.2.2', remote: '192.0.2.1', address: '10.8.0.2/30', peerAddress: '10.8.0.1', keepaliveInterval: 0 });
  return { a, b, aIo, bIo };
}

describe('probes', () => {
  it('gre: a Cisco keepalive reflected by the peer answers; none within the timeout is false', async () => {
    const { a, aIo, bIo } = await facingEngines('gre', 'ga', 'gb');
    const aRaw = aIo.socket('raw 47 192.0.2.1');
    const bRaw = bIo.socket('raw 47 192.0.2.2');
    // Raw sockets read the outer IPv4 header too: wrap what one end writes as the other reads it.
    const carry = (from: FakeEndpoint, to: FakeEndpoint, src: string, dst: string): void => {
      to.deliver(...from.take().map((p) => ({ bytes: outerPacket(src, dst, 47, p.bytes), addr: ipv4ToNumber(src), port: 0 })));
    };
    const probe = a.probe('ga', { timeoutMs: 200 });
    carry(aRaw, bRaw, '192.0.2.1', '192.0.2.2');
    carry(bRaw, aRaw, '192.0.2.2', '192.0.2.1');
    await expect(probe).resolves.toBe(true);
    const lost = a.probe('ga', { timeoutMs: 200 });
    aRaw.take();
    vi.advanceTimersByTime(200);
    await expect(lost).resolves.toBe(false);
    await expect(a.probe('nope')).rejects.toMatchObject({ code: 'ERR_TUNNEL_NOT_FOUND' });
    await expect(a.probe('ga', { timeoutMs: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('fou without auth: a UDP keepalive echoed by the peer answers; an unbound hub tunnel is false at once', async () => {
    const { a, aIo, bIo } = await facingEngines('fou', 'fa', 'fb');
    const aSocket = aIo.socket('udp 192.0.2.1:4754');
    const bSocket = bIo.socket('udp 192.0.2.2:4754');
    const probe = a.probe('fa', { timeoutMs: 200 });
    bSocket.deliver(...aSocket.take().map((p) => ({ bytes: p.bytes, addr: ipv4ToNumber('192.0.2.1'), port: 4754 })));
    aSocket.deliver(...bSocket.take().map((p) => ({ bytes: p.bytes, addr: ipv4ToNumber('192.0.2.2'), port: 4754 })));
    await expect(probe).resolves.toBe(true);
    const { engine, socket } = await setupHub();
    await expect(engine.probe('hub-c2')).resolves.toBe(false);
    expect(socket.take()).toEqual([]);
  });
});
