import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEspInbound, createEspSa, createEspSlotResults, createPacketBatch, type EspSecurityAssociation } from '../../native/index.js';
import { DatapathEngine, type RekeyDueEvent } from '../../shared/datapath/datapath-engine.js';
import type { TunnelEspInput } from '../../shared/datapath/tunnel-esp.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { upsertTunnel } from '../../shared/datapath/upsert-tunnel.js';
import { buildGreKeepalive } from '../../shared/wire/gre-keepalive.js';
import { decodeGre } from '../../shared/wire/gre.js';
import { decodeEspHeader } from '../../shared/wire/esp.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { rejectionOf } from '../helpers/error-code.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet, ipv6Packet, outerPacket } from '../helpers/test-packets.js';

// The engine's ESP on fake I/O, with the addon's own transform on both ends: what leaves an
// encrypted tunnel is ESP and nothing else, what arrives is taken only when it opens, and the
// SAs change live without a lost packet.

const A = '192.0.2.1';
const B = '192.0.2.2';
const b = ipv4ToNumber(B);
const KEY_OUT = randomBytes(20);
const KEY_IN = randomBytes(20);
const SPI_OUT = 0x1001;
const SPI_IN = 0x2001;

function esp(overrides: Partial<TunnelEspInput> = {}): TunnelEspInput {
  return { aead: 'aes-gcm', outbound: { spi: SPI_OUT, key: KEY_OUT }, inbound: [{ spi: SPI_IN, key: KEY_IN }], ...overrides };
}

function spec(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: 'tnl0', encap: 'gre', local: A, remote: B, address: '10.9.0.1/30', peerAddress: '10.9.0.2', keepaliveInterval: 0, esp: esp(), ...overrides };
}

async function setup(overrides: Partial<TunnelSpecInput> = {}) {
  const io = new FakeDatapathIo();
  const rekeys: RekeyDueEvent[] = [];
  const engine = new DatapathEngine(io, { onRekeyDue: (e) => rekeys.push(e) });
  await engine.addTunnel(spec(overrides));
  return { io, engine, rekeys };
}

const inner = (n = 0) => ipv4Packet({ src: '10.9.0.1', dst: '10.9.0.2', length: 100 + n });
const innerBack = (n = 0) => ipv4Packet({ src: '10.9.0.2', dst: '10.9.0.1', length: 100 + n });

function gre(proto: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(proto, 2);
  return Buffer.concat([header, payload]);
}

/** The peer's end: seals what we should open, opens what we sent. */
class Peer {
  readonly sender: EspSecurityAssociation;
  readonly inbound = createEspInbound();
  readonly batch = createPacketBatch(1, 2048);
  readonly results = createEspSlotResults(1);

  constructor(sealSpi = SPI_IN, sealKey: Buffer = KEY_IN, openSpi = SPI_OUT, openKey: Buffer = KEY_OUT, aead: 'aes-gcm' | 'chacha20-poly1305' = 'aes-gcm') {
    this.sender = createEspSa({ spi: sealSpi, aead, key: sealKey });
    this.inbound.add(createEspSa({ spi: openSpi, aead, key: openKey }));
  }

  seal(payload: Buffer, nextHeader = 47, sa = this.sender): Buffer {
    payload.copy(this.batch.data, 64);
    this.batch.offsets[0] = 64;
    this.batch.lengths[0] = payload.length;
    this.results.nextHeaders[0] = nextHeader;
    expect(sa.seal(this.batch, 1, this.results)).toBe(1);
    return Buffer.from(this.batch.data.subarray(this.batch.offsets[0], this.batch.offsets[0] + this.batch.lengths[0]));
  }

  /** Opens an ESP packet: its next header and payload, or the outcome code when refused. */
  open(packet: Buffer): { nextHeader: number; payload: Buffer } | number {
    packet.copy(this.batch.data, 0);
    this.batch.offsets[0] = 0;
    this.batch.lengths[0] = packet.length;
    if (this.inbound.open(this.batch, 1, this.results) !== 1) return this.results.outcomes[0]!;
    return { nextHeader: this.results.nextHeaders[0]!, payload: Buffer.from(this.batch.data.subarray(this.batch.offsets[0], this.batch.offsets[0] + this.batch.lengths[0])) };
  }
}

/** ESP as a raw IPv4 socket reads it: the outer header (protocol 50), then the ESP packet. */
const fromPeer = (espPacket: Buffer) => ({ bytes: outerPacket(B, A, 50, espPacket), addr: b, port: 0 });

afterEach(async () => {
  vi.useRealTimers();
});

describe('an encrypted gre tunnel on raw ESP', () => {
  it('seals every TUN packet as ESP (next header 47, sequence from 1) on the protocol-50 socket and sends nothing in the clear', async () => {
    const { io } = await setup();
    const peer = new Peer();
    io.tun('tnl0').deliver({ bytes: inner(0), addr: 0, port: 0 }, { bytes: inner(1), addr: 0, port: 0 });
    const sent = io.socket(`raw 50 ${A}`).take();
    expect(sent.map((s) => s.addr)).toEqual([b, b]);
    expect(sent.map((s) => decodeEspHeader(s.bytes))).toEqual([
      expect.objectContaining({ ok: true, spi: SPI_OUT, sequence: 1 }), expect.objectContaining({ ok: true, spi: SPI_OUT, sequence: 2 }),
    ]);
    expect(sent.map((s) => peer.open(s.bytes))).toEqual([
      { nextHeader: 47, payload: gre(0x0800, inner(0)) }, { nextHeader: 47, payload: gre(0x0800, inner(1)) },
    ]);
    // The cleartext socket exists only to count what arrives on it.
    expect(io.socket(`raw 47 ${A}`).take()).toEqual([]);
  });

  it('opens ESP from the remote into the TUN, and counts tampered, replayed, unknown-SPI and cleartext packets without delivering them', async () => {
    const { io, engine } = await setup();
    const peer = new Peer();
    const tun = io.tun('tnl0');
    const first = peer.seal(gre(0x0800, innerBack(0)));
    io.socket(`raw 50 ${A}`).deliver(fromPeer(first));
    expect(tun.take().map((p) => p.bytes)).toEqual([innerBack(0)]);
    const tampered = peer.seal(gre(0x0800, innerBack(1)));
    tampered[tampered.length - 20]! ^= 0x01;
    const stranger = new Peer(0x9999, randomBytes(20)).seal(gre(0x0800, innerBack(2)));
    io.socket(`raw 50 ${A}`).deliver(fromPeer(tampered), fromPeer(first), fromPeer(stranger));
    io.socket(`raw 47 ${A}`).deliver({ bytes: outerPacket(B, A, 47, gre(0x0800, innerBack(3))), addr: b, port: 0 });
    expect(tun.take()).toEqual([]);
    // Genuine traffic goes on.
    io.socket(`raw 50 ${A}`).deliver(fromPeer(peer.seal(gre(0x0800, innerBack(4)))));
    expect(tun.take().map((p) => p.bytes)).toEqual([innerBack(4)]);
    const status = engine.tunnelStatus('tnl0');
    expect(status.dropsByReason).toEqual({ 'rx:auth': 1, 'rx:replay': 1, 'rx:no-sa': 1, 'rx:cleartext': 1 });
    expect(status.rx.packets).toBe(2);
  });

  it('with no outbound SA yet, drops every packet as tx:no-sa (keepalives too) and sends nothing at all', async () => {
    const { io, engine } = await setup({ esp: esp({ outbound: null }), keepaliveInterval: 10 });
    io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 }, { bytes: inner(), addr: 0, port: 0 });
    for (const socket of [`raw 50 ${A}`, `raw 47 ${A}`]) expect(io.socket(socket).take()).toEqual([]);
    expect(engine.tunnelStatus('tnl0')).toMatchObject({ encrypted: true, spiOut: null, saAgeSeconds: null, dropsByReason: { 'tx:no-sa': 3 } });
  });

  it('after an engine restart, sends its first packet as ESP again (sequence 1), never in the clear', async () => {
    const first = await setup();
    first.io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    first.engine.close();
    const second = await setup();
    second.io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    expect(second.io.socket(`raw 47 ${A}`).take()).toEqual([]);
    expect(second.io.socket(`raw 50 ${A}`).take().map((s) => decodeEspHeader(s.bytes))).toEqual([expect.objectContaining({ spi: SPI_OUT, sequence: 1 })]);
  });

  it('seals its Cisco keepalive, and reflects the peer\'s one inside ESP', async () => {
    const { io } = await setup({ keepaliveInterval: 10 });
    const peer = new Peer();
    const [probe] = io.socket(`raw 50 ${A}`).take();
    const opened = peer.open(probe!.bytes) as { nextHeader: number; payload: Buffer };
    const keepalive = Buffer.alloc(64);
    const length = buildGreKeepalive(keepalive, 0, { local: ipv4ToNumber(A), remote: b });
    expect(opened).toEqual({ nextHeader: 47, payload: keepalive.subarray(0, length) });
    const theirs = Buffer.alloc(64);
    const theirLength = buildGreKeepalive(theirs, 0, { local: b, remote: ipv4ToNumber(A) });
    io.socket(`raw 50 ${A}`).deliver(fromPeer(peer.seal(theirs.subarray(0, theirLength))));
    const [reflected] = io.socket(`raw 50 ${A}`).take();
    const answer = peer.open(reflected!.bytes) as { nextHeader: number; payload: Buffer };
    expect(decodeGre(answer.payload)).toMatchObject({ ok: true, protocolType: 0 });
    expect(io.socket(`raw 47 ${A}`).take()).toEqual([]);
  });

  it('shows encrypted, aead, SPIs and the SA age in status, and never a key byte', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { engine } = await setup();
    vi.advanceTimersByTime(5_000);
    const status = engine.tunnelStatus('tnl0');
    expect(status).toMatchObject({ encrypted: true, aead: 'aes-gcm', spiIn: [SPI_IN], spiOut: SPI_OUT, saAgeSeconds: 5, mtu: 1442 });
    const shown = JSON.stringify(status) + inspect(engine, { depth: 8 });
    for (const key of [KEY_OUT, KEY_IN]) {
      expect(shown).not.toContain(key.toString('hex'));
      expect(shown).not.toContain(key.toString('base64'));
    }
  });
});

describe('live SA changes', () => {
  it('installs a new inbound SA, switches outbound, then drops the old inbound: each a plain update, no packet lost', async () => {
    const { io, engine } = await setup();
    const tun = io.tun('tnl0');
    const socket = io.socket(`raw 50 ${A}`);
    const oldPeer = new Peer();
    const nextIn = randomBytes(20);
    const nextOut = randomBytes(20);
    const newPeer = new Peer(0x2002, nextIn, 0x1002, nextOut);
    const inFlight = oldPeer.seal(gre(0x0800, innerBack(0)));
    // 1. both SAs inbound
    await engine.update('tnl0', { esp: esp({ inbound: [{ spi: SPI_IN, key: KEY_IN }, { spi: 0x2002, key: nextIn }] }) });
    socket.deliver(fromPeer(newPeer.seal(gre(0x0800, innerBack(1)))), fromPeer(inFlight));
    expect(tun.take().map((p) => p.bytes)).toEqual([innerBack(1), innerBack(0)]);
    // A replay of a packet already taken is still one: the running SA kept its window.
    socket.deliver(fromPeer(inFlight));
    expect(tun.take()).toEqual([]);
    // 2. the sender switches
    tun.deliver({ bytes: inner(0), addr: 0, port: 0 });
    await engine.update('tnl0', { esp: esp({ outbound: { spi: 0x1002, key: nextOut }, inbound: [{ spi: SPI_IN, key: KEY_IN }, { spi: 0x2002, key: nextIn }] }) });
    tun.deliver({ bytes: inner(1), addr: 0, port: 0 });
    const sent = socket.take();
    expect(sent.map((s) => decodeEspHeader(s.bytes))).toEqual([
      expect.objectContaining({ spi: SPI_OUT, sequence: 1 }), expect.objectContaining({ spi: 0x1002, sequence: 1 }),
    ]);
    expect(oldPeer.open(sent[0]!.bytes)).toEqual({ nextHeader: 47, payload: gre(0x0800, inner(0)) });
    expect(newPeer.open(sent[1]!.bytes)).toEqual({ nextHeader: 47, payload: gre(0x0800, inner(1)) });
    // 3. the old inbound SA leaves: its packets are no-sa from now on
    await engine.update('tnl0', { esp: esp({ outbound: { spi: 0x1002, key: nextOut }, inbound: [{ spi: 0x2002, key: nextIn }] }) });
    socket.deliver(fromPeer(oldPeer.seal(gre(0x0800, innerBack(2)))), fromPeer(newPeer.seal(gre(0x0800, innerBack(3)))));
    expect(tun.take().map((p) => p.bytes)).toEqual([innerBack(3)]);
    expect(engine.tunnelStatus('tnl0')).toMatchObject({ spiIn: [0x2002], spiOut: 0x1002, dropsByReason: { 'rx:replay': 1, 'rx:no-sa': 1 } });
  });

  it('refuses a bad update with a coded one-line error naming no key byte, and keeps running as it was', async () => {
    const { io, engine } = await setup();
    const before = engine.tunnelStatus('tnl0');
    const bad = randomBytes(19);
    const caught = await rejectionOf(engine.update('tnl0', { esp: esp({ outbound: { spi: 0x1002, key: bad } }) }));
    expect(caught).toMatchObject({ code: 'ERR_INVALID_KEY' });
    expect(caught.message).not.toContain(bad.toString('hex'));
    expect(caught.message).not.toContain('\n');
    await expect(engine.update('tnl0', { esp: esp({ inbound: [{ spi: SPI_IN, key: KEY_IN }, { spi: SPI_IN, key: KEY_OUT }] }) }))
      .rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    await expect(engine.update('tnl0', { encap: 'fou' })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    const after = engine.tunnelStatus('tnl0');
    expect({ ...after, saAgeSeconds: 0 }).toEqual({ ...before, saAgeSeconds: 0 });
    io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    expect(new Peer().open(io.socket(`raw 50 ${A}`).take()[0]!.bytes)).toEqual({ nextHeader: 47, payload: gre(0x0800, inner()) });
  });

  it('turning ESP on live never lets a packet out in the clear afterwards', async () => {
    const { io, engine } = await setup({ esp: null });
    io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${A}`).take()).toHaveLength(1);
    await engine.update('tnl0', { esp: esp() });
    io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${A}`).take()).toEqual([]);
    expect(io.socket(`raw 50 ${A}`).take()).toHaveLength(1);
  });

  it('upsertTunnel follows the spec\'s esp: keys change in place, and a spec without esp is cleartext', async () => {
    const { io, engine } = await setup();
    await upsertTunnel(engine, spec({ esp: esp({ outbound: { spi: 0x1002, key: KEY_OUT } }) }));
    expect(engine.tunnelStatus('tnl0')).toMatchObject({ encrypted: true, spiOut: 0x1002 });
    await upsertTunnel(engine, spec({ esp: undefined }));
    expect(engine.tunnelStatus('tnl0')).toMatchObject({ encrypted: false, aead: null, spiIn: [], spiOut: null, mtu: 1476 });
    expect(io.calls.filter((call) => call.startsWith('openTun'))).toHaveLength(1);
  });

  it('reports an outbound SA past its rekey point once (onRekeyDue), on the ESP watch', async () => {
    vi.useFakeTimers();
    const { io, rekeys } = await setup({ esp: esp({ rekeySequence: 3 }) });
    for (let i = 0; i < 4; i++) io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    expect(rekeys).toEqual([]);
    vi.advanceTimersByTime(1_000);
    vi.advanceTimersByTime(3_000);
    expect(rekeys).toEqual([{ name: 'tnl0', spi: SPI_OUT, sequence: 4 }]);
  });
});

describe('ESP in UDP (RFC 3948)', () => {
  const udpSpec = { esp: esp({ udp: {} }) };

  it('sends ESP as the payload of UDP 4500 to the remote\'s port 4500, and takes ESP from there', async () => {
    const { io, engine } = await setup(udpSpec);
    const peer = new Peer();
    io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    const [sent] = io.socket(`udp ${A}:4500`).take();
    expect([sent!.addr, sent!.port]).toEqual([b, 4500]);
    expect(peer.open(sent!.bytes)).toEqual({ nextHeader: 47, payload: gre(0x0800, inner()) });
    io.socket(`udp ${A}:4500`).deliver({ bytes: peer.seal(gre(0x0800, innerBack())), addr: b, port: 4500 }, { bytes: Buffer.from([0xff]), addr: b, port: 4500 });
    expect(io.tun('tnl0').take().map((p) => p.bytes)).toEqual([innerBack()]);
    expect(engine.tunnelStatus('tnl0')).toMatchObject({ localPort: 4500, remotePort: 4500, mtu: 1434, dropsByReason: {} });
  });

  it('a member says hello behind the non-ESP marker, outside ESP, and the hub takes it to bind', async () => {
    const sessionKey = randomBytes(32);
    const hub = await setup({ name: 'hub0', remote: undefined, esp: esp({ udp: {} }), auth: { bindingId: 7, key: sessionKey, role: 'hub' } });
    const member = await setup({ local: B, remote: A, esp: esp({ udp: {}, outbound: { spi: SPI_IN, key: KEY_IN }, inbound: [{ spi: SPI_OUT, key: KEY_OUT }] }), auth: { bindingId: 7, key: sessionKey, role: 'member' } });
    const [hello] = member.io.socket(`udp ${B}:4500`).take();
    expect(hello!.bytes.subarray(0, 4).toString('hex')).toBe('00000000');
    hub.io.socket(`udp ${A}:4500`).deliver({ bytes: hello!.bytes, addr: b, port: 4500 });
    expect(hub.engine.tunnelStatus('hub0').binding).toMatchObject({ state: 'bound', port: 4500 });
    const [ack] = hub.io.socket(`udp ${A}:4500`).take();
    expect(ack!.bytes.subarray(0, 4).toString('hex')).toBe('00000000');
    member.io.socket(`udp ${B}:4500`).deliver({ bytes: ack!.bytes, addr: ipv4ToNumber(A), port: 4500 });
    expect(member.engine.tunnelStatus('tnl0').binding).toMatchObject({ state: 'acked' });
    // Data between them is ESP both ways.
    member.io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 });
    const [data] = member.io.socket(`udp ${B}:4500`).take();
    hub.io.socket(`udp ${A}:4500`).deliver({ bytes: data!.bytes, addr: b, port: 4500 });
    expect(hub.io.tun('hub0').take().map((p) => p.bytes)).toEqual([inner()]);
  });
});

describe('ipip and IPv6 under ESP', () => {
  it('ipip seals inner IPv4 as next header 4; over IPv6, inner IPv6 as 41, both on the one ESP socket', async () => {
    const v6 = await setup({ encap: 'ipip', local: '2001:db8::1', remote: '2001:db8::2' });
    const peer = new Peer();
    v6.io.tun('tnl0').deliver({ bytes: inner(), addr: 0, port: 0 }, { bytes: ipv6Packet(), addr: 0, port: 0 });
    const sent = v6.io.socket('raw 50 2001:db8::1').take();
    expect(sent.map((s) => peer.open(s.bytes))).toEqual([{ nextHeader: 4, payload: inner() }, { nextHeader: 41, payload: ipv6Packet() }]);
    expect(v6.engine.tunnelStatus('tnl0').mtu).toBe(1426);
  });
});
