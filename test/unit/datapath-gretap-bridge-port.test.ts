import { describe, expect, it } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { applyTunnelUpdate, validateTunnelSpec, type TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { upsertTunnel } from '../../shared/datapath/upsert-tunnel.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { outerPacket } from '../helpers/test-packets.js';

const A = '192.0.2.1';
const B = '192.0.2.2';

/** A gretap spec with no inner addresses: an L2 port for a bridge. */
function port(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: 'tap0', encap: 'gretap', local: A, remote: B, keepaliveInterval: 0, ...overrides };
}

/** A broadcast ARP request frame (60 bytes, as Ethernet pads it). */
function arpFrame(): Buffer {
  const frame = Buffer.alloc(60);
  frame.fill(0xff, 0, 6);
  Buffer.from('020000000001', 'hex').copy(frame, 6);
  frame.writeUInt16BE(0x0806, 12);
  return frame;
}

describe('a gretap spec without inner addresses', () => {
  it('validates with all three inner fields null, and keeps them null through a live update', async () => {
    const spec = validateTunnelSpec(port());
    expect(spec).toMatchObject({ encap: 'gretap', address: null, prefixLength: null, peerAddress: null, mtu: null });
    expect(spec.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(applyTunnelUpdate(spec, { remote: '198.51.100.9', key: 4 })).toMatchObject({ remote: '198.51.100.9', key: 4, address: null, peerAddress: null });
  });

  it.each([
    [port({ address: '10.9.0.1/30' }), /--peer-address is missing \(or leave out both/],
    [port({ peerAddress: '10.9.0.2' }), /--address is missing \(or leave out both/],
    [port({ encap: 'gre', mac: undefined }), /gre needs --address and --peer-address \(only gretap/],
    [port({ encap: 'ipip' }), /ipip needs --address and --peer-address/],
    [port({ encap: 'fou' }), /fou needs/],
    [port({ encap: 'gue' }), /gue needs/],
    [port({ encap: 'gre', address: '10.9.0.1/30' }), /--peer-address is missing$/],
  ])('refuses %j with ERR_INVALID_ARGUMENT', (input, message) => {
    expect(() => validateTunnelSpec(input)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(message) }));
  });
});

describe('a gretap bridge port through the engine', () => {
  it('opens the TAP with its MAC and MTU, adds no address, shows inner and peerInner null, and carries frames', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    const status = await engine.addTunnel(port());
    expect(io.calls).toEqual([`open raw 47 ${A} ttl 64`, 'openTap tap0', `mac tap0 ${status.mac}`, 'mtu tap0 1462', 'up tap0 true']);
    expect(status).toMatchObject({ encap: 'gretap', inner: null, peerInner: null, mtu: 1462 });
    const socket = io.socket(`raw 47 ${A}`);
    io.tun('tap0').deliver({ bytes: arpFrame(), addr: 0, port: 0 });
    const [sent] = socket.take();
    expect(sent!.addr).toBe(ipv4ToNumber(B));
    expect(sent!.bytes.subarray(0, 4).toString('hex')).toBe('00006558');
    socket.deliver({ bytes: outerPacket(B, A, 47, Buffer.concat([Buffer.from('00006558', 'hex'), arpFrame()])), addr: ipv4ToNumber(B), port: 0 });
    expect(io.tun('tap0').take()[0]!.bytes.equals(arpFrame())).toBe(true);
    expect(engine.tunnelStatus('tap0')).toMatchObject({ inner: null, peerInner: null, rx: { packets: 1 }, tx: { packets: 1 } });
    await engine.close();
  });

  it('changes a port in place on an outer change, and re-creates it only when addresses appear', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(port());
    await upsertTunnel(engine, port({ remote: '198.51.100.9' }));
    expect(io.calls.filter((call) => call === 'openTap tap0')).toHaveLength(1);
    expect(engine.tunnelStatus('tap0')).toMatchObject({ remote: '198.51.100.9', inner: null });
    await upsertTunnel(engine, port({ address: '10.9.0.1/30', peerAddress: '10.9.0.2' }));
    expect(io.calls.filter((call) => call === 'openTap tap0')).toHaveLength(2);
    expect(io.calls.at(-2)).toBe('addr tap0 10.9.0.1/30 peer undefined');
    expect(engine.tunnelStatus('tap0')).toMatchObject({ inner: '10.9.0.1/30', peerInner: '10.9.0.2' });
    await engine.close();
  });

  it('refuses one address without the other and leaves the engine as it was', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(port());
    const calls = [...io.calls];
    await expect(engine.addTunnel(port({ name: 'tap1', remote: '192.0.2.3', address: '10.9.1.1/30' }))).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(io.calls).toEqual(calls);
    expect(engine.status().map((tunnel) => [tunnel.name, tunnel.inner])).toEqual([['tap0', null]]);
    await engine.close();
  });
});
