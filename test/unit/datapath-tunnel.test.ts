import { describe, expect, it } from 'vitest';
import { planEncapsulation, type OuterTransport } from '../../shared/datapath/encapsulation-plan.js';
import { outerKeyOf } from '../../shared/datapath/outer-address.js';
import { OuterSocket } from '../../shared/datapath/outer-socket.js';
import { StaticPlacement } from '../../shared/datapath/static-placement.js';
import { Keepalives } from '../../shared/datapath/tunnel-keepalive.js';
import { TunnelLiveness } from '../../shared/datapath/tunnel-liveness.js';
import { claimProblem, tunnelPath } from '../../shared/datapath/tunnel-path.js';
import { TunnelProbes } from '../../shared/datapath/tunnel-probe.js';
import { validateTunnelSpec, type TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { Tunnel, type TunnelMirror } from '../../shared/datapath/tunnel.js';
import { countersAndSas, NO_SAS } from '../helpers/cleartext-sas.js';
import { allocateBatch, FakeEndpoint, FakeTun } from '../helpers/fake-datapath-io.js';

// Tunnel with a configured remote (StaticPlacement): its methods alone move its sockets' entries
// and keep its fast route in step, whatever changes.

const LOCAL = '192.0.2.1';
const B = outerKeyOf('192.0.2.2');
const C = outerKeyOf('192.0.2.3');

class CountingMirror implements TunnelMirror {
  syncs = 0;
  closed = false;
  readonly moved = { rxPackets: 0, txPackets: 0 };

  sync(): void {
    this.syncs++;
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

  close(): void {
    this.closed = true;
  }
}

function socketOf(transport: OuterTransport, local = LOCAL): OuterSocket {
  const family = local.includes(':') ? 6 : 4;
  return new OuterSocket(`${transport} ${local}`, transport, family, local, 0, 64, new FakeEndpoint(`${transport} ${local}`),
    allocateBatch(64, 2048), allocateBatch(1, 2048), allocateBatch(64, 256));
}

function open(input: TunnelSpecInput, socket: OuterSocket, socket6 = socket): { tunnel: Tunnel; mirror: CountingMirror } {
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
  }, tunnelPath(spec, planEncapsulation(spec), null, socket, socket6, null, NO_SAS, () => {}));
  tunnel.open();
  const mirror = new CountingMirror();
  tunnel.attachFastRoute(mirror);
  return { tunnel, mirror };
}

function gre(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: 'tnl0', encap: 'gre', local: LOCAL, remote: '192.0.2.2', key: 5, address: '10.9.0.1/30', peerAddress: '10.9.0.2', keepaliveInterval: 0, ...overrides };
}

describe('Tunnel with a configured remote', () => {
  it('opens into its socket: a user, and the demux entry (remote, key)', () => {
    const socket = socketOf('gre');
    const { tunnel, mirror } = open(gre(), socket);
    expect(tunnel.placement).toBeInstanceOf(StaticPlacement);
    expect([socket.users, socket.lookup(B, 5)]).toEqual([1, tunnel]);
    expect([tunnel.sending, tunnel.placement.receiving, tunnel.remoteAddress, tunnel.remoteAddress6]).toEqual([true, true, B, null]);
    expect(mirror.syncs).toBe(1);
  });

  it('retargets in one call: the old entry goes, the new one comes, the fast route follows', () => {
    const socket = socketOf('gre');
    const { tunnel, mirror } = open(gre(), socket);
    const spec = validateTunnelSpec(gre({ remote: '192.0.2.3', key: 6 }));
    tunnel.retarget(tunnelPath(spec, planEncapsulation(spec), null, socket, socket, null, NO_SAS, () => {}));
    expect(socket.lookup(B, 5)).toBeUndefined();
    expect(socket.lookup(C, 6)).toBe(tunnel);
    expect([tunnel.remoteAddress, tunnel.greKey, socket.users]).toEqual([C, 6, 1]);
    expect(mirror.syncs).toBe(2);
  });

  it('moves between sockets: detaches from the old one, attaches to the new one', () => {
    const greSocket = socketOf('gre');
    const udpSocket = socketOf('udp');
    const { tunnel } = open(gre(), greSocket);
    const spec = validateTunnelSpec(gre({ encap: 'fou', key: undefined, port: 4754 }));
    tunnel.retarget(tunnelPath(spec, planEncapsulation(spec), null, udpSocket, udpSocket, null, NO_SAS, () => {}));
    expect([greSocket.users, greSocket.lookup(B, 5)]).toEqual([0, undefined]);
    expect([udpSocket.users, udpSocket.lookup(B, 4754)]).toEqual([1, tunnel]);
    expect(tunnel.socket).toBe(udpSocket);
  });

  it('holds its entry on both sockets of ipip over IPv6, and gives both up on close', () => {
    const v4in6 = socketOf('ipip', '2001:db8::1');
    const v6in6 = socketOf('ipv6', '2001:db8::1');
    const { tunnel, mirror } = open({ name: 'ip6', encap: 'ipip', local: '2001:db8::1', remote: '2001:db8::2', address: '10.9.0.1/30', peerAddress: '10.9.0.2' }, v4in6, v6in6);
    const remote = outerKeyOf('2001:db8::2');
    expect([v4in6.lookup(remote, 0), v6in6.lookup(remote, 0)]).toEqual([tunnel, tunnel]);
    expect(Buffer.from(tunnel.remoteAddress6!).toString('hex')).toBe('20010db8000000000000000000000002');
    const waiting = tunnel.probes.wait('keepalive', 60_000);
    tunnel.close();
    expect([v4in6.lookup(remote, 0), v6in6.lookup(remote, 0), v4in6.users, v6in6.users]).toEqual([undefined, undefined, 0, 0]);
    // The TUN is the engine's to close (off the event loop), not the tunnel's.
    expect([tunnel.closed, tunnel.tun.closed, mirror.closed]).toEqual([true, false, true]);
    return expect(waiting).resolves.toBe(false);
  });

  it('syncs its fast route on a new path MTU and on a member end, and not at all once closed', () => {
    const socket = socketOf('gre');
    const { tunnel, mirror } = open(gre(), socket);
    const smaller = planEncapsulation(tunnel.spec, 1500, 1400);
    tunnel.setPathMtu(1400, smaller);
    expect([tunnel.learnedPathMtu, tunnel.plan.mtu, mirror.syncs]).toEqual([1400, smaller.mtu, 2]);
    tunnel.setMember(null);
    expect(mirror.syncs).toBe(3);
    tunnel.close();
    tunnel.placementChanged();
    tunnel.livenessChanged();
    expect(mirror.syncs).toBe(3);
  });

  it('refuses a place another configured tunnel holds, naming it, and takes nothing', () => {
    const socket = socketOf('gre');
    const { tunnel } = open(gre(), socket);
    const spec = validateTunnelSpec(gre({ name: 'tnl1' }));
    expect(claimProblem(socket, socket, null, spec)).toBe('another tunnel already receives GRE from 192.0.2.2 with key 5 on 192.0.2.1');
    expect(claimProblem(socket, socket, null, spec, tunnel)).toBeNull();
    expect([socket.users, socket.lookup(B, 5)]).toEqual([1, tunnel]);
  });
});
