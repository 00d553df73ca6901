import { describe, expect, it } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { DestinationLookup } from '../../shared/datapath/destination-lookup.js';
import { deviceOwner } from '../../shared/datapath/device-owner.js';
import { sharedInnerChanges } from '../../shared/datapath/shared-member-device.js';
import { validateTunnelSpec } from '../../shared/datapath/tunnel-spec.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet, ipv6Packet, outerPacket } from '../helpers/test-packets.js';

const OWNER = deviceOwner('tunnel-hub:SHA256:shared-test');
const HUB = '192.0.2.1';
const SHARED = 'tc-members';

function member(i: number, overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: `tnl-m${i}`, encap: 'gre', local: HUB, remote: `198.51.100.${i + 1}`, address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`,
    keepaliveInterval: 0, sources: [`10.9.${i}.0/30`, `10.50.${i}.0/24`], ...overrides };
}

function setup() {
  const io = new FakeDatapathIo();
  const engine = new DatapathEngine(io, { owner: OWNER, sharedDevice: { name: SHARED, takes: (spec) => spec.encap !== 'gretap' } });
  return { io, engine };
}

function ipv6To(destination: string): Buffer {
  const packet = ipv6Packet(80);
  Buffer.from(destination, 'hex').copy(packet, 24);
  return packet;
}

describe('DestinationLookup (the JS side of the shared device table)', () => {
  it('finds the longest prefix holding an IPv4 or IPv6 destination, and nothing outside every prefix', () => {
    const lookup = new DestinationLookup<string>();
    lookup.set('wide', ['10.50.0.0/16', '2001:db8::/32']);
    lookup.set('narrow', ['10.50.2.0/24', '10.9.0.2/32', '2001:db8:5::/48']);
    const at = (dst: string) => lookup.lookup(ipv4Packet({ src: '10.0.0.1', dst, length: 40 }), 0, 40);
    expect(at('10.50.2.7')).toBe('narrow');
    expect(at('10.50.3.7')).toBe('wide');
    expect(at('10.9.0.2')).toBe('narrow');
    expect(at('10.9.0.1')).toBeNull();
    expect(at('192.0.2.1')).toBeNull();
    const at6 = (dst: string) => lookup.lookup(ipv6To(dst), 0, 80);
    expect(at6('20010db8000500000000000000000001')).toBe('narrow');
    expect(at6('20010db8000600000000000000000001')).toBe('wide');
    expect(at6('20010db9000000000000000000000001')).toBeNull();
    // Too short to hold a destination, or not IP at all.
    expect(lookup.lookup(Buffer.alloc(10, 0x45), 0, 10)).toBeNull();
    expect(lookup.lookup(Buffer.alloc(40, 0x00), 0, 40)).toBeNull();
  });

  it('replaces an owner\'s prefixes, removes them, keeps a prefix another owner took over, and leaves the table as it was on a bad CIDR', () => {
    const lookup = new DestinationLookup<string>();
    const at = (dst: string) => lookup.lookup(ipv4Packet({ src: '10.0.0.1', dst, length: 40 }), 0, 40);
    lookup.set('a', ['10.1.0.0/24']);
    lookup.set('b', ['10.1.0.0/24', '10.2.0.0/24']);
    expect(at('10.1.0.9')).toBe('b');
    lookup.remove('a');
    expect(at('10.1.0.9')).toBe('b');
    expect(() => lookup.set('b', ['10.3.0.1/24'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CIDR' }));
    expect(at('10.2.0.9')).toBe('b');
    lookup.set('b', ['10.3.0.0/24']);
    expect(at('10.2.0.9')).toBeNull();
    expect(at('10.3.0.9')).toBe('b');
    lookup.remove('b');
    expect(at('10.3.0.9')).toBeNull();
  });
});

describe('sharedInnerChanges (a tunnel\'s inner addresses on the shared device, as routes)', () => {
  it('adds the hub\'s end as a local route before the peer\'s prefix with it as source, and deletes them the other way round', () => {
    const spec = validateTunnelSpec(member(3, { address: '10.9.3.6/30', peerAddress: '10.9.3.5' }));
    const local = { prefix: '10.9.3.6/32', link: SHARED, metric: 0, local: true };
    const towards = { prefix: '10.9.3.4/30', link: SHARED, metric: 0, source: '10.9.3.6' };
    expect(sharedInnerChanges(SHARED, spec, 'add')).toEqual([{ kind: 'replace-route', route: local }, { kind: 'replace-route', route: towards }]);
    expect(sharedInnerChanges(SHARED, spec, 'delete')).toEqual([{ kind: 'delete-route', route: towards }, { kind: 'delete-route', route: local }]);
  });

  it('takes the prefix from the peer, as `addr add LOCAL peer PEER/LEN` does, and has nothing for a tunnel without addresses', () => {
    const spec = validateTunnelSpec(member(4, { address: '10.9.4.1/32', peerAddress: '10.77.0.9' }));
    expect(sharedInnerChanges(SHARED, spec, 'add').map((change) => change.kind === 'replace-route' ? change.route.prefix : change.kind))
      .toEqual(['10.9.4.1/32', '10.77.0.9/32']);
    const bare = validateTunnelSpec({ name: 'tnl-l2', encap: 'gretap', local: HUB, remote: '198.51.100.9', mac: '02:00:00:00:00:09' });
    expect(sharedInnerChanges(SHARED, bare, 'add')).toEqual([]);
  });
});

describe('an engine with a shared device', () => {
  it('puts the tunnels it takes on one marked device with their inner addresses, and the others on their own', async () => {
    const { io, engine } = setup();
    await engine.addTunnel(member(0));
    await engine.addTunnel(member(1));
    await engine.addTunnel(member(2, { encap: 'gretap', mac: '02:00:00:00:00:02' }));
    expect(io.calls.filter((call) => call.startsWith('openTun') || call.startsWith('openTap'))).toEqual([`openTun ${SHARED} exclusive`, 'openTap tnl-m2 exclusive']);
    expect(io.marks.get(SHARED)).toEqual({ group: OWNER.group, alias: OWNER.alias });
    // Routes, not addresses: the hub's end local, the /30 towards the member with the hub's end as source.
    expect(io.calls).toContain(`replace-route local 10.9.0.1/32 ${SHARED} 0`);
    expect(io.calls).toContain(`replace-route 10.9.0.0/30 ${SHARED} 0 src 10.9.0.1`);
    expect(io.calls.indexOf(`replace-route local 10.9.1.1/32 ${SHARED} 0`)).toBeLessThan(io.calls.indexOf(`replace-route 10.9.1.0/30 ${SHARED} 0 src 10.9.1.1`));
    expect(io.calls.filter((call) => call.startsWith(`addr ${SHARED}`))).toEqual([]);
    expect(engine.status().map((s) => [s.name, s.device])).toEqual([['tnl-m0', SHARED], ['tnl-m1', SHARED], ['tnl-m2', 'tnl-m2']]);
    expect(engine.deviceOf('tnl-m1')).toBe(SHARED);
  });

  it('sends what it reads from the shared device through the tunnel its destination picks, and drops what no tunnel holds', async () => {
    const { io, engine } = setup();
    await engine.addTunnel(member(0));
    await engine.addTunnel(member(1));
    engine.setSharedRoutes('tnl-m1', ['10.50.1.0/24']);
    const raw = io.socket(`raw 47 ${HUB}`);
    const toPeer0 = ipv4Packet({ src: '10.9.0.1', dst: '10.9.0.2', length: 60 });
    const toPrefix1 = ipv4Packet({ src: '10.50.0.5', dst: '10.50.1.9', length: 70 });
    const nowhere = ipv4Packet({ src: '10.50.0.5', dst: '10.77.0.1', length: 80 });
    io.tun(SHARED).deliver({ bytes: toPeer0, addr: 0, port: 0 }, { bytes: toPrefix1, addr: 0, port: 0 }, { bytes: nowhere, addr: 0, port: 0 });
    const sent = raw.take();
    expect(sent.map((p) => p.addr)).toEqual([ipv4ToNumber('198.51.100.1'), ipv4ToNumber('198.51.100.2')]);
    expect(sent[0]!.bytes.subarray(4).equals(toPeer0)).toBe(true);
    expect(sent[1]!.bytes.subarray(4).equals(toPrefix1)).toBe(true);
    expect(engine.sharedUnrouted()).toBe(1);
    expect(engine.tunnelStatus('tnl-m0').tx.packets).toBe(1);
    expect(engine.tunnelStatus('tnl-m1').tx.packets).toBe(1);
  });

  it('writes what a tunnel receives into the shared device, after its source check', async () => {
    const { io, engine } = setup();
    await engine.addTunnel(member(0));
    const raw = io.socket(`raw 47 ${HUB}`);
    const good = ipv4Packet({ src: '10.50.0.7', dst: '10.9.1.2', length: 60 });
    const spoofed = ipv4Packet({ src: '10.77.0.7', dst: '10.9.1.2', length: 60 });
    const from = ipv4ToNumber('198.51.100.1');
    const gre = (inner: Buffer) => Buffer.concat([Buffer.from([0, 0, 8, 0]), inner]);
    raw.deliver({ bytes: outerPacket('198.51.100.1', HUB, 47, gre(good)), addr: from, port: 0 }, { bytes: outerPacket('198.51.100.1', HUB, 47, gre(spoofed)), addr: from, port: 0 });
    const written = io.tun(SHARED).take();
    expect(written).toHaveLength(1);
    expect(written[0]!.bytes.equals(good)).toBe(true);
    expect(engine.tunnelStatus('tnl-m0').spoofed).toBe(1);
  });

  it('refuses routes for a tunnel with its own device or a bad CIDR, leaving its destinations as they were', async () => {
    const { io, engine } = setup();
    await engine.addTunnel(member(0));
    await engine.addTunnel(member(2, { encap: 'gretap', mac: '02:00:00:00:00:02' }));
    engine.setSharedRoutes('tnl-m0', ['10.50.0.0/24']);
    expect(() => engine.setSharedRoutes('tnl-m2', ['10.50.2.0/24'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => engine.setSharedRoutes('tnl-m0', ['10.50.0.1/24'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CIDR' }));
    io.tun(SHARED).deliver({ bytes: ipv4Packet({ src: '10.9.0.1', dst: '10.50.0.3', length: 60 }), addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${HUB}`).take()).toHaveLength(1);
  });

  it('removing a tunnel keeps the device for the others; close() deletes the group and closes the device', async () => {
    const { io, engine } = setup();
    await engine.addTunnel(member(0));
    await engine.addTunnel(member(1));
    await engine.removeTunnel('tnl-m0');
    expect(io.calls).not.toContain(`close ${SHARED}`);
    expect(io.calls.filter((call) => call.startsWith('delete-route'))).toEqual([
      `delete-route 10.9.0.0/30 ${SHARED} 0 src 10.9.0.1`, `delete-route local 10.9.0.1/32 ${SHARED} 0`,
    ]);
    io.tun(SHARED).deliver({ bytes: ipv4Packet({ src: '10.9.1.1', dst: '10.9.0.2', length: 60 }), addr: 0, port: 0 });
    expect(io.socket(`raw 47 ${HUB}`).take()).toHaveLength(0);
    expect(engine.sharedUnrouted()).toBe(1);
    // A restart's stale-device sweep leaves the device alone while it runs.
    expect(await engine.removeStaleDevices()).toEqual([]);
    await engine.close();
    expect(io.calls).toContain(`delete group ${OWNER.group}`);
    expect(io.calls).toContain(`close ${SHARED}`);
    expect(io.tuns.has(SHARED)).toBe(false);
  });
});
