import { describe, expect, it } from 'vitest';
import type { FastRoute, FastRouteConfig, FastRouteCounters } from '../../native/types.js';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { isTunnelError, TunnelError } from '../../shared/errors.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet, outerPacket } from '../helpers/test-packets.js';

const A = '192.0.2.1';
const B = '192.0.2.2';
const C = '192.0.2.3';

/** A fast route that records its configurations and reports counters the test sets. */
class RecordingRoute implements FastRoute {
  readonly configs: FastRouteConfig[] = [];
  closed = false;
  failWith: Error | null = null;
  counts: FastRouteCounters = {
    rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, rxQueueFull: 0, txQueueFull: 0, rxErrors: 0, txErrors: 0, msSinceReceive: null,
  };

  configure(config: FastRouteConfig): void {
    if (this.failWith !== null) throw this.failWith;
    this.configs.push(config);
  }

  counters(): FastRouteCounters {
    return { ...this.counts };
  }

  close(): void {
    this.closed = true;
  }

  get last(): FastRouteConfig {
    return this.configs[this.configs.length - 1]!;
  }
}

class RouteIo extends FakeDatapathIo {
  readonly routes: RecordingRoute[] = [];
  failNext: Error | null = null;

  createFastRoute(): FastRoute {
    const route = new RecordingRoute();
    route.failWith = this.failNext;
    this.routes.push(route);
    return route;
  }
}

function spec(overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: 'fp0', encap: 'gre', local: A, remote: B, address: '10.9.0.1/30', peerAddress: '10.9.0.2', keepaliveInterval: 0, ...overrides };
}

function greData(): Buffer {
  return Buffer.concat([Buffer.from('00000800', 'hex'), ipv4Packet({ src: '10.9.0.2', dst: '10.9.0.1', length: 100 })]);
}

describe('the engine keeps each tunnel\'s fast route in step with its JS state', () => {
  it('points a new tunnel\'s route at its remote with the header bytes of its plan', async () => {
    const io = new RouteIo();
    await new DatapathEngine(io).addTunnel(spec({ key: 5 }));
    const route = io.routes[0]!;
    expect(route.last).toMatchObject({
      tun: io.tun('fp0'), outer: io.socket(`raw 47 ${A}`), transmit: true, receive: true,
      remoteAddress: ipv4ToNumber(B), remotePort: 0, mtu: 1472, clampMss: false, quietLimitMs: 0,
    });
    expect(Buffer.from(route.last.header4!).toString('hex')).toBe('2000080000000005');
    expect(Buffer.from(route.last.header6!).toString('hex')).toBe('200086dd00000005');
  });

  it('receives natively only once a tracked tunnel is up: the first packet goes through JS', async () => {
    const io = new RouteIo();
    await new DatapathEngine(io).addTunnel(spec({ keepaliveInterval: 10 }));
    const route = io.routes[0]!;
    expect(route.last.receive).toBe(false);
    expect(route.last.transmit).toBe(true);
    io.socket(`raw 47 ${A}`).deliver({ bytes: outerPacket(B, A, 47, greData()), addr: ipv4ToNumber(B), port: 0 });
    expect(route.last.receive).toBe(true);
  });

  it('follows a live update of the remote, port and encapsulation', async () => {
    const io = new RouteIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(spec());
    await engine.update('fp0', { remote: C, encap: 'fou', localPort: 4754, remotePort: 5555 });
    const route = io.routes[0]!;
    expect(route.last).toMatchObject({ outer: io.socket(`udp ${A}:4754`), remoteAddress: ipv4ToNumber(C), remotePort: 5555, mtu: 1468 });
  });

  it('adds what the route moved to the tunnel\'s counters and status', async () => {
    const io = new RouteIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(spec());
    const route = io.routes[0]!;
    route.counts = { ...route.counts, rxPackets: 5, rxBytes: 500, txPackets: 7, txBytes: 700, rxQueueFull: 2, txErrors: 1, msSinceReceive: 20 };
    const first = engine.tunnelStatus('fp0');
    expect(first.rx).toMatchObject({ packets: 5, bytes: 500, dropped: 2 });
    expect(first.tx).toMatchObject({ packets: 7, bytes: 700, errors: 1 });
    expect(first.dropsByReason).toMatchObject({ 'rx:queue-full': 2, 'tx:io-error': 1 });
    expect(first.fastPath).toEqual({ rxPackets: 5, txPackets: 7 });
    // Reading again adds nothing twice.
    expect(engine.tunnelStatus('fp0').rx.packets).toBe(5);
  });

  it('has a NATed member send through JS after silence, and closes the route with the tunnel', async () => {
    const io = new RouteIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(spec({
      encap: 'fou', localPort: 4754, remotePort: 4754, auth: { bindingId: 7, key: Buffer.alloc(32, 1), role: 'member' }, helloInterval: 15,
    }));
    const route = io.routes[0]!;
    expect(route.last.quietLimitMs).toBeGreaterThan(0);
    await engine.removeTunnel('fp0');
    expect(route.closed).toBe(true);
  });

  it('parks a hub-role tunnel\'s route until a verified hello binds it', async () => {
    const io = new RouteIo();
    await new DatapathEngine(io).addTunnel(spec({
      encap: 'fou', localPort: 4754, remotePort: 4754, auth: { bindingId: 7, key: Buffer.alloc(32, 1), role: 'hub' }, helloInterval: 15,
    }));
    expect(io.routes[0]!.last).toMatchObject({ transmit: false, receive: false });
  });

  it('undoes addTunnel when the route refuses its configuration', async () => {
    const io = new RouteIo();
    io.failNext = new TunnelError('ERR_CLOSED', 'fast route: closed');
    const engine = new DatapathEngine(io);
    let caught: unknown;
    try {
      await engine.addTunnel(spec());
    } catch (err) {
      caught = err;
    }
    expect(isTunnelError(caught) && caught.code).toBe('ERR_CLOSED');
    expect(engine.status()).toEqual([]);
    expect(io.calls).toContain('close fp0');
    expect(io.socket(`raw 47 ${A}`).closed).toBe(true);
  });

  it('leaves every packet to JS when the engine is told not to use fast routes', async () => {
    const io = new RouteIo();
    const engine = new DatapathEngine(io, { fastPath: false });
    await engine.addTunnel(spec());
    expect(io.routes).toHaveLength(0);
    expect(engine.tunnelStatus('fp0').fastPath).toBeNull();
  });

  it('hands the tunnel\'s source filter to the route as tables, and clears it live', async () => {
    const io = new RouteIo();
    const engine = new DatapathEngine(io);
    await engine.addTunnel(spec());
    const route = io.routes[0]!;
    expect(route.last.sources).toBeNull();
    await engine.update('fp0', { sources: ['10.9.0.2/32', '2001:db8:5::/48'] });
    expect([...route.last.sources!.v4]).toEqual([ipv4ToNumber('10.9.0.2'), 0xffffffff]);
    expect(Buffer.from(route.last.sources!.v6).toString('hex')).toBe(`20010db8000500000000000000000000${'ff'.repeat(6)}${'00'.repeat(10)}`);
    await engine.update('fp0', { sources: null });
    expect(route.last.sources).toBeNull();
  });
});
