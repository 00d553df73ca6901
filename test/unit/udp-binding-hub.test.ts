import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { planEncapsulation } from '../../shared/datapath/encapsulation-plan.js';
import { OuterSocket } from '../../shared/datapath/outer-socket.js';
import { StaticPlacement } from '../../shared/datapath/static-placement.js';
import { Keepalives } from '../../shared/datapath/tunnel-keepalive.js';
import { TunnelLiveness } from '../../shared/datapath/tunnel-liveness.js';
import { tunnelPath } from '../../shared/datapath/tunnel-path.js';
import { TunnelProbes } from '../../shared/datapath/tunnel-probe.js';
import { validateTunnelSpec, type TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { Tunnel, type TunnelMirror } from '../../shared/datapath/tunnel.js';
import type { BindingEvent } from '../../shared/datapath/udp-binding-event.js';
import { HubBinding, receiveHubHello } from '../../shared/datapath/udp-binding-hub.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { decodeUdpHello, sealUdpHello, verifyUdpHelloMac } from '../../shared/wire/udp-hello.js';
import { countersAndSas, NO_SAS } from '../helpers/cleartext-sas.js';
import { allocateBatch, FakeEndpoint, FakeTun } from '../helpers/fake-datapath-io.js';

// The hub binding on its own: a Tunnel and an OuterSocket over fakes, hellos handed straight to
// receiveHubHello, the fast route replaced by a mirror that records what it saw on each sync.

const HUB = '198.51.100.1';
const NAT = ipv4ToNumber('192.0.2.20');
const OTHER = ipv4ToNumber('192.0.2.21');
const KEY = Buffer.alloc(32, 0x11);
const NEW_KEY = Buffer.alloc(32, 0x22);
const ID = 7;

/** Records, on every sync, whether the tunnel sends, receives and where it points. */
class RecordingMirror implements TunnelMirror {
  readonly seen: { sending: boolean; receiving: boolean; address: number; port: number }[] = [];
  readonly moved = { rxPackets: 0, txPackets: 0 };

  constructor(private readonly tunnel: () => Tunnel) {}

  sync(): void {
    const t = this.tunnel();
    this.seen.push({ sending: t.sending, receiving: t.placement.receiving, address: t.remoteAddress, port: t.remotePort });
  }

  absorb(): void {}

  readonly receivedSinceDrain = false;

  drainDestinations(): [] {
    return [];
  }

  absorbFrom(): void {}

  get route(): never {
    throw new Error('no route behind this mirror');
  }

  close(): void {}

  get last(): RecordingMirror['seen'][number] {
    return this.seen[this.seen.length - 1]!;
  }
}

function udpSocket(port = 4754): { socket: OuterSocket; endpoint: FakeEndpoint } {
  const endpoint = new FakeEndpoint(`udp ${HUB}:${port}`);
  const socket = new OuterSocket(`udp ${HUB}:${port}`, 'udp', 4, HUB, port, 64, endpoint, allocateBatch(64, 2048), allocateBatch(1, 2048), allocateBatch(64, 256));
  return { socket, endpoint };
}

function hubInput(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return {
    name: 'hub-c2', encap: 'fou', local: HUB, remote: '203.0.113.9', address: '10.7.0.1/30', peerAddress: '10.7.0.2',
    keepaliveInterval: 0, auth: { bindingId: ID, key: KEY, role: 'hub' }, helloInterval: 10, ...overrides,
  };
}

/** A tunnel opened on `socket` with a recording mirror; its placement is what tunnelPath picks. */
function openTunnel(socket: OuterSocket, input: TunnelSpecInput, events: BindingEvent[]) {
  const spec = validateTunnelSpec(input);
  const tunnel = new Tunnel({
    tun: new FakeTun(spec.name),
    batches: { fromTun: allocateBatch(64, 2048), toTun: allocateBatch(64, 2048), replies: allocateBatch(8, 2048) },
    keepalives: new Keepalives(() => {}),
    ...countersAndSas(spec.name),
    liveness: new TunnelLiveness(spec.name, 3, () => {}),
    probes: new TunnelProbes(),
    nonce: 1,
    destinations: null,
  }, tunnelPath(spec, planEncapsulation(spec), null, socket, socket, null, NO_SAS, (e) => events.push(e)));
  tunnel.open();
  const mirror = new RecordingMirror(() => tunnel);
  tunnel.attachFastRoute(mirror);
  return { tunnel, mirror };
}

/** Moves `tunnel` to `input` on `socket`, as the engine's update does. */
function retarget(tunnel: Tunnel, socket: OuterSocket, input: TunnelSpecInput, events: BindingEvent[]): void {
  const spec = validateTunnelSpec(input);
  tunnel.retarget(tunnelPath(spec, planEncapsulation(spec), null, socket, socket, null, NO_SAS, (e) => events.push(e)));
}

function hello(counter: bigint, options: { key?: Buffer; bindingId?: number } = {}): Buffer {
  const buf = Buffer.alloc(44);
  sealUdpHello(buf, 0, { kind: 'hello', bindingId: options.bindingId ?? ID, counter, view: null }, options.key ?? KEY);
  return buf;
}

function deliverHello(socket: OuterSocket, source: number, port: number, counter: bigint, options: { key?: Buffer; bindingId?: number } = {}): void {
  const body = hello(counter, options);
  receiveHubHello(socket, 'fou', null, source, port, body, 0, body.length);
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('HubBinding: the one owner of a hello-bound tunnel\'s demux entry and send target', () => {
  it('joins unbound: in the binding table, in no demux entry, sending nowhere, pointed at the hint', () => {
    const { socket } = udpSocket();
    const events: BindingEvent[] = [];
    const { tunnel, mirror } = openTunnel(socket, hubInput(), events);
    expect(tunnel.placement).toBeInstanceOf(HubBinding);
    expect(socket.bindingHolder(ID)).toBe(tunnel);
    expect(socket.lookup(ipv4ToNumber('203.0.113.9'), 4754)).toBeUndefined();
    expect([tunnel.sending, tunnel.remoteAddress, tunnel.remotePort]).toEqual([false, ipv4ToNumber('203.0.113.9'), 4754]);
    expect(mirror.last).toMatchObject({ sending: false, receiving: false });
    expect(tunnel.placement.bindingStatus()).toMatchObject({ role: 'hub', state: 'unbound', address: null, port: null, counter: '' });
    expect(events).toEqual([]);
  });

  it('binds on a verified hello: demux entry, send target, fast route, event, and a signed ack there', () => {
    const { socket, endpoint } = udpSocket();
    const events: BindingEvent[] = [];
    const { tunnel, mirror } = openTunnel(socket, hubInput(), events);
    deliverHello(socket, NAT, 40001, 5n);
    expect(socket.lookup(NAT, 40001)).toBe(tunnel);
    expect([tunnel.sending, tunnel.remoteAddress, tunnel.remotePort]).toEqual([true, NAT, 40001]);
    expect(mirror.last).toEqual({ sending: true, receiving: true, address: NAT, port: 40001 });
    expect(tunnel.liveness.state).toBe('up');
    expect(events).toEqual([{ name: 'hub-c2', address: '192.0.2.20', port: 40001, reason: 'bound' }]);
    const [ack] = endpoint.take();
    expect([ack!.addr, ack!.port]).toEqual([NAT, 40001]);
    expect(decodeUdpHello(ack!.bytes, 4, ack!.bytes.length - 4)).toMatchObject({ ok: true, kind: 'ack', bindingId: ID, counter: 5n });
    expect(verifyUdpHelloMac(ack!.bytes, 4, KEY)).toBe(true);
  });

  it('moves to the source of a later verified hello and gives up the old entry', () => {
    const { socket } = udpSocket();
    const events: BindingEvent[] = [];
    const { tunnel } = openTunnel(socket, hubInput(), events);
    deliverHello(socket, NAT, 40001, 5n);
    deliverHello(socket, OTHER, 50002, 6n);
    expect(socket.lookup(NAT, 40001)).toBeUndefined();
    expect(socket.lookup(OTHER, 50002)).toBe(tunnel);
    expect([tunnel.remoteAddress, tunnel.remotePort]).toEqual([OTHER, 50002]);
    expect(events[1]).toEqual({ name: 'hub-c2', address: '192.0.2.21', port: 50002, reason: 'moved', previous: { address: '192.0.2.20', port: 40001 } });
  });

  it('moves nothing on a replayed, forged or unknown hello, and answers none of them', () => {
    const { socket, endpoint } = udpSocket();
    const events: BindingEvent[] = [];
    const { tunnel } = openTunnel(socket, hubInput(), events);
    deliverHello(socket, NAT, 40001, 5n);
    endpoint.take();
    deliverHello(socket, OTHER, 50002, 5n);
    deliverHello(socket, OTHER, 50002, 9n, { key: NEW_KEY });
    deliverHello(socket, OTHER, 50002, 9n, { bindingId: ID + 1 });
    expect(socket.lookup(NAT, 40001)).toBe(tunnel);
    expect(socket.lookup(OTHER, 50002)).toBeUndefined();
    expect([tunnel.remoteAddress, tunnel.remotePort]).toEqual([NAT, 40001]);
    expect(tunnel.counters.snapshot().dropsByReason).toEqual({ 'rx:hello-replay': 1, 'rx:hello-bad-mac': 1 });
    expect(socket.unmatched.snapshot().dropsByReason).toEqual({ 'rx:hello-unknown-binding': 1 });
    expect(endpoint.take()).toEqual([]);
    expect(events.map((e) => e.reason)).toEqual(['bound']);
  });

  it('expires after bindingTimeout without a valid hello: entry gone, nothing sent, liveness down', () => {
    const { socket } = udpSocket();
    const events: BindingEvent[] = [];
    const { tunnel, mirror } = openTunnel(socket, hubInput({ bindingTimeout: 20 }), events);
    deliverHello(socket, NAT, 40001, 5n);
    vi.advanceTimersByTime(15_000);
    deliverHello(socket, NAT, 40001, 6n);
    vi.advanceTimersByTime(19_999);
    expect(tunnel.sending).toBe(true);
    vi.advanceTimersByTime(1);
    expect(events.map((e) => e.reason)).toEqual(['bound', 'expired']);
    expect(socket.lookup(NAT, 40001)).toBeUndefined();
    expect(tunnel.sending).toBe(false);
    expect(tunnel.liveness.state).toBe('down');
    expect(mirror.last).toMatchObject({ sending: false, receiving: false });
    expect(tunnel.placement.bindingStatus()).toMatchObject({ state: 'unbound', address: null, counter: '6', hellos: 2 });
    deliverHello(socket, NAT, 40001, 7n);
    expect(events.map((e) => e.reason)).toEqual(['bound', 'expired', 'bound']);
  });

  it('is displaced by another hub tunnel\'s verified hello from its address:port', () => {
    const { socket } = udpSocket();
    const events: BindingEvent[] = [];
    const first = openTunnel(socket, hubInput(), events).tunnel;
    const second = openTunnel(socket, hubInput({ name: 'hub-c3', address: '10.7.0.5/30', peerAddress: '10.7.0.6', auth: { bindingId: ID + 1, key: NEW_KEY, role: 'hub' } }), events).tunnel;
    deliverHello(socket, NAT, 40001, 5n);
    deliverHello(socket, NAT, 40001, 5n, { bindingId: ID + 1, key: NEW_KEY });
    expect(events.map((e) => [e.name, e.reason])).toEqual([['hub-c2', 'bound'], ['hub-c2', 'displaced'], ['hub-c3', 'bound']]);
    expect(socket.lookup(NAT, 40001)).toBe(second);
    expect(first.sending).toBe(false);
  });

  it('is displaced by a configured remote joining on its address:port, which then refuses hellos from there', () => {
    const { socket } = udpSocket();
    const events: BindingEvent[] = [];
    const hub = openTunnel(socket, hubInput(), events).tunnel;
    deliverHello(socket, NAT, 40001, 5n);
    const fixed = openTunnel(socket, { name: 'link', encap: 'fou', local: HUB, remote: '192.0.2.20', remotePort: 40001, address: '10.9.0.1/30', peerAddress: '10.9.0.2', keepaliveInterval: 0 }, events).tunnel;
    expect(fixed.placement).toBeInstanceOf(StaticPlacement);
    expect(socket.lookup(NAT, 40001)).toBe(fixed);
    expect(hub.sending).toBe(false);
    expect(events.map((e) => e.reason)).toEqual(['bound', 'displaced']);
    deliverHello(socket, NAT, 40001, 6n);
    expect(hub.counters.snapshot().dropsByReason).toEqual({ 'rx:hello-address-taken': 1 });
    expect(socket.lookup(NAT, 40001)).toBe(fixed);
  });

  it('carries over a re-key on the same socket: same address, new binding id, counters start over, the old key fails', () => {
    const { socket } = udpSocket();
    const events: BindingEvent[] = [];
    const { tunnel, mirror } = openTunnel(socket, hubInput(), events);
    deliverHello(socket, NAT, 40001, 500n);
    const binding = tunnel.placement;
    retarget(tunnel, socket, hubInput({ auth: { bindingId: ID + 5, key: NEW_KEY, role: 'hub' } }), events);
    expect(tunnel.placement).toBe(binding);
    expect(socket.bindingHolder(ID)).toBeUndefined();
    expect(socket.bindingHolder(ID + 5)).toBe(tunnel);
    expect([tunnel.sending, tunnel.remoteAddress, tunnel.remotePort]).toEqual([true, NAT, 40001]);
    expect(socket.lookup(NAT, 40001)).toBe(tunnel);
    expect(mirror.last).toEqual({ sending: true, receiving: true, address: NAT, port: 40001 });
    expect(binding.bindingStatus()).toMatchObject({ bindingId: ID + 5, state: 'bound', counter: '' });
    deliverHello(socket, NAT, 40001, 501n, { bindingId: ID + 5 });
    expect(tunnel.counters.snapshot().dropsByReason).toEqual({ 'rx:hello-bad-mac': 1 });
    deliverHello(socket, NAT, 40001, 1n, { bindingId: ID + 5, key: NEW_KEY });
    expect(binding.bindingStatus()).toMatchObject({ counter: '1', hellos: 2 });
    expect(events.map((e) => e.reason)).toEqual(['bound']);
  });

  it('re-arms its expiry on a new bindingTimeout, and takes a new hint while unbound', () => {
    const { socket } = udpSocket();
    const events: BindingEvent[] = [];
    const { tunnel } = openTunnel(socket, hubInput({ bindingTimeout: 60 }), events);
    retarget(tunnel, socket, hubInput({ bindingTimeout: 60, remote: '203.0.113.10' }), events);
    expect([tunnel.sending, tunnel.remoteAddress]).toEqual([false, ipv4ToNumber('203.0.113.10')]);
    deliverHello(socket, NAT, 40001, 5n);
    vi.advanceTimersByTime(10_000);
    retarget(tunnel, socket, hubInput({ bindingTimeout: 15, remote: '203.0.113.11' }), events);
    expect(tunnel.remoteAddress).toBe(NAT);
    vi.advanceTimersByTime(4_999);
    expect(tunnel.sending).toBe(true);
    vi.advanceTimersByTime(1);
    expect(events.map((e) => e.reason)).toEqual(['bound', 'expired']);
  });

  it('is reset by a move to another socket: a new, unbound binding there, nothing left on the old one', () => {
    const { socket } = udpSocket();
    const { socket: other } = udpSocket(5555);
    const events: BindingEvent[] = [];
    const { tunnel, mirror } = openTunnel(socket, hubInput(), events);
    deliverHello(socket, NAT, 40001, 5n);
    const binding = tunnel.placement;
    retarget(tunnel, other, hubInput({ port: 5555 }), events);
    expect(tunnel.placement).not.toBe(binding);
    expect(events.map((e) => e.reason)).toEqual(['bound', 'reset']);
    expect(socket.lookup(NAT, 40001)).toBeUndefined();
    expect(socket.bindingHolder(ID)).toBeUndefined();
    expect(socket.users).toBe(0);
    expect([other.bindingHolder(ID), other.users]).toEqual([tunnel, 1]);
    expect(mirror.last).toMatchObject({ sending: false, receiving: false });
  });

  it('leaves silently when its tunnel closes: no event, no entries, no expiry later', () => {
    const { socket } = udpSocket();
    const events: BindingEvent[] = [];
    const { tunnel } = openTunnel(socket, hubInput(), events);
    deliverHello(socket, NAT, 40001, 5n);
    tunnel.close();
    vi.advanceTimersByTime(3_600_000);
    expect(events.map((e) => e.reason)).toEqual(['bound']);
    expect(socket.lookup(NAT, 40001)).toBeUndefined();
    expect(socket.bindingHolder(ID)).toBeUndefined();
    expect(socket.users).toBe(0);
  });
});
