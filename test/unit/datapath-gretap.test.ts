import { describe, expect, it } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { planEncapsulation } from '../../shared/datapath/encapsulation-plan.js';
import { validateTunnelSpec, type TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { upsertTunnel } from '../../shared/datapath/upsert-tunnel.js';
import { deriveTapMac, parseTapMac } from '../../shared/net/tap-mac-address.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet, outerPacket } from '../helpers/test-packets.js';

const A = '192.0.2.1';
const B = '192.0.2.2';

function spec(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: 'tap0', encap: 'gretap', local: A, remote: B, address: '10.9.0.1/30', peerAddress: '10.9.0.2', keepaliveInterval: 0, ...overrides };
}

/** A broadcast ARP request frame (60 bytes, as Ethernet pads it). */
function arpFrame(): Buffer {
  const frame = Buffer.alloc(60);
  frame.fill(0xff, 0, 6);
  Buffer.from('020000000001', 'hex').copy(frame, 6);
  frame.writeUInt16BE(0x0806, 12);
  return frame;
}

describe('the TAP MAC address', () => {
  it('is derived the same way every time, unicast and locally administered, and differs per seed', async () => {
    const mac = deriveTapMac('hub-1 alice');
    expect(deriveTapMac('hub-1 alice')).toBe(mac);
    expect(deriveTapMac('hub-1 bob')).not.toBe(mac);
    expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(parseInt(mac.slice(0, 2), 16) & 0b11).toBe(0b10);
  });

  it.each(['02:00:5e:10:00', '01:00:5e:00:00:01', '00:00:00:00:00:00', 'zz:00:5e:10:00:01'])('refuses %s with ERR_INVALID_ARGUMENT', (text) => {
    expect(() => parseTapMac(text)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('gretap specs and plans', () => {
  it('derives a MAC from the name and outer addresses unless given, carries a key, and counts the Ethernet header in the MTU', async () => {
    const derived = validateTunnelSpec(spec());
    expect(derived.mac).toBe(deriveTapMac(`tap0 ${A} ${B}`));
    expect(validateTunnelSpec(spec({ mac: '02:AA:BB:CC:DD:EE' })).mac).toBe('02:aa:bb:cc:dd:ee');
    expect(planEncapsulation(derived)).toMatchObject({ transport: 'gre', mtu: 1462 });
    expect(Buffer.from(planEncapsulation(derived).frame!).toString('hex')).toBe('00006558');
    const keyed = planEncapsulation(validateTunnelSpec(spec({ key: 5 })));
    expect(keyed.mtu).toBe(1458);
    expect(Buffer.from(keyed.frame!).toString('hex')).toBe('2000655800000005');
    expect(planEncapsulation(validateTunnelSpec(spec({ local: '2001:db8::1', remote: '2001:db8::2' }))).mtu).toBe(1442);
    expect(validateTunnelSpec({ ...spec(), encap: 'gre' }).mac).toBeNull();
  });

  it.each([
    [{ mssClamp: true }, /MSS clamping/],
    [{ port: 4754 }, /only applies to fou and gue/],
    [{ encap: 'gre', mac: '02:00:00:00:00:01' }, /only applies to gretap/],
    [{ auth: { bindingId: 1, key: Buffer.alloc(32), role: 'hub' } }, /needs fou or gue/],
  ])('refuses %j with ERR_INVALID_ARGUMENT', (patch, message) => {
    expect(() => validateTunnelSpec(spec(patch as Partial<TunnelSpecInput>))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(message) }));
  });
});

describe('gretap through the engine', () => {
  it('opens a TAP with its MAC and a /30 without peer, sends frames as GRE 0x6558 and delivers received frames', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    const status = await engine.addTunnel(spec({ key: 9 }));
    expect(io.calls).toEqual(expect.arrayContaining([`openTap tap0`, `mac tap0 ${status.mac}`, 'mtu tap0 1458', 'addr tap0 10.9.0.1/30 peer undefined']));
    const socket = io.socket(`raw 47 ${A}`);
    const frame = arpFrame();
    io.tun('tap0').deliver({ bytes: frame, addr: 0, port: 0 });
    const [sent] = socket.take();
    expect(sent!.addr).toBe(ipv4ToNumber(B));
    expect(sent!.bytes.subarray(0, 8).toString('hex')).toBe('2000655800000009');
    expect(sent!.bytes.subarray(8).equals(frame)).toBe(true);
    socket.deliver({ bytes: outerPacket(B, A, 47, Buffer.concat([Buffer.from('2000655800000009', 'hex'), frame])), addr: ipv4ToNumber(B), port: 0 });
    const [delivered] = io.tun('tap0').take();
    expect(delivered!.bytes.equals(frame)).toBe(true);
    expect(engine.tunnelStatus('tap0')).toMatchObject({ encap: 'gretap', rx: { packets: 1 }, tx: { packets: 1 } });
    await engine.close();
  });

  it('drops IP packets arriving for a TAP and frames arriving for a TUN, and runts, counting each', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(spec());
    await engine.addTunnel({ ...spec(), name: 'tun0', encap: 'gre', remote: '192.0.2.3', address: '10.9.1.1/30', peerAddress: '10.9.1.2' });
    const socket = io.socket(`raw 47 ${A}`);
    const ip = ipv4Packet({ src: '10.9.0.2', dst: '10.9.0.1', length: 60 });
    socket.deliver(
      { bytes: outerPacket(B, A, 47, Buffer.concat([Buffer.from('00000800', 'hex'), ip])), addr: ipv4ToNumber(B), port: 0 },
      { bytes: outerPacket(B, A, 47, Buffer.concat([Buffer.from('00006558', 'hex'), Buffer.alloc(10)])), addr: ipv4ToNumber(B), port: 0 },
      { bytes: outerPacket('192.0.2.3', A, 47, Buffer.concat([Buffer.from('00006558', 'hex'), arpFrame()])), addr: ipv4ToNumber('192.0.2.3'), port: 0 },
    );
    expect(io.tun('tap0').take()).toHaveLength(0);
    expect(io.tun('tun0').take()).toHaveLength(0);
    expect(engine.tunnelStatus('tap0').dropsByReason).toEqual({ 'rx:unsupported-protocol': 1, 'rx:bad-inner': 1 });
    expect(engine.tunnelStatus('tun0').dropsByReason).toEqual({ 'rx:unsupported-protocol': 1 });
    io.tun('tap0').deliver({ bytes: Buffer.alloc(1600, 1), addr: 0, port: 0 }, { bytes: Buffer.alloc(8), addr: 0, port: 0 });
    expect(socket.take()).toHaveLength(0);
    expect(engine.tunnelStatus('tap0').dropsByReason).toMatchObject({ 'tx:too-big': 1, 'tx:bad-inner': 1 });
    await engine.close();
  });

  it('refuses a live move between gretap and an IP encapsulation, and upsert re-creates the device instead', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(spec());
    await expect(engine.update('tap0', { encap: 'gre' })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/another kind of device/) }));
    expect(engine.tunnelStatus('tap0').encap).toBe('gretap');
    await upsertTunnel(engine, { ...spec(), encap: 'gre' });
    expect(engine.tunnelStatus('tap0')).toMatchObject({ encap: 'gre', mac: null });
    // The TAP was closed and a TUN of the same name opened after it.
    expect(io.tuns.get('tap0')).toBeDefined();
    expect(io.calls.indexOf('openTun tap0')).toBeGreaterThan(io.calls.indexOf('openTap tap0'));
    expect(io.calls.indexOf('openTap tap0')).toBeGreaterThanOrEqual(0);
    await engine.close();
  });
});
