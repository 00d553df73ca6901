import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import type { DestinationBytes, FastRoute, FastRouteCounters } from '../../native/types.js';
import { DestinationTally } from '../../shared/datapath/destination-tally.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet, ipv6Packet, outerPacket } from '../helpers/test-packets.js';

const A = '192.0.2.1';
const B = '192.0.2.2';

function greFrame(payload: Buffer, proto = 0x0800): Buffer {
  const header = Buffer.from([0, 0, proto >> 8, proto & 0xff]);
  return Buffer.concat([header, payload]);
}

/** Counts `packets` (destination index, length) into a fresh tally; destinations are 10.0.0.X. */
function tallied(packets: readonly (readonly [number, number])[]): { counted: Map<string, number>; sent: Map<string, number> } {
  const tally = new DestinationTally();
  const sent = new Map<string, number>();
  for (const [destination, length] of packets) {
    const dst = `10.0.0.${destination}`;
    tally.count(ipv4Packet({ src: '10.9.0.2', dst, length }), 0, 4, length);
    sent.set(dst, (sent.get(dst) ?? 0) + length);
  }
  return { counted: new Map(tally.drain().map((entry) => [entry.address, entry.bytes])), sent };
}

const packets = fc.array(fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 20, max: 1500 })), { maxLength: 400 });

describe('DestinationTally', () => {
  it('counts each destination exactly while the table has room', () => {
    const { counted, sent } = tallied([[1, 100], [2, 1400], [1, 60], [2, 1400]]);
    expect(counted).toEqual(sent);
  });

  it('never counts more bytes toward a destination than were sent to it', () => {
    fc.assert(fc.property(packets, (list) => {
      const { counted, sent } = tallied(list);
      for (const [address, bytes] of counted) expect(bytes).toBeLessThanOrEqual(sent.get(address)!);
    }));
  });

  it('keeps a destination that carries more than a third of all bytes, however many others there are', () => {
    fc.assert(fc.property(packets, fc.integer({ min: 1, max: 60 }), (list, heavy) => {
      const total = list.reduce((sum, [, length]) => sum + length, 0);
      // Enough packets toward `heavy`, spread through the others, to pass a third of everything.
      const extra = Math.ceil((total / 2 + 1) / 1400) + 1;
      const mixed = [...list];
      for (let i = 0; i < extra; i++) mixed.splice(Math.floor((i * mixed.length) / extra), 0, [heavy, 1400]);
      const { counted, sent } = tallied(mixed);
      const all = [...sent.values()].reduce((sum, bytes) => sum + bytes, 0);
      expect(sent.get(`10.0.0.${heavy}`)! * 3).toBeGreaterThan(all);
      expect(counted.get(`10.0.0.${heavy}`) ?? 0).toBeGreaterThan(0);
    }));
  });

  it('starts empty again after a drain, and names IPv6 destinations in RFC 5952 form', () => {
    const tally = new DestinationTally();
    tally.count(ipv6Packet(200), 0, 6, 200);
    expect(tally.drain()).toEqual([{ address: 'fd00::2', bytes: 200 }]);
    expect(tally.drain()).toEqual([]);
  });
});

describe('DatapathEngine.drainDestinations', () => {
  it('counts the inner destinations a tunnel received on the JS path, only when asked to', async () => {
    for (const tallyDestinations of [true, false]) {
      const io = new FakeDatapathIo();
      const engine = new DatapathEngine(io, { tallyDestinations });
      await engine.addTunnel({ name: 'tnl-c1', encap: 'gre', local: A, remote: B, address: '10.9.0.1/30', peerAddress: '10.9.0.2', keepaliveInterval: 0 });
      const toC2 = ipv4Packet({ src: '10.9.0.2', dst: '10.9.0.6', length: 1000 });
      const toHub = ipv4Packet({ src: '10.9.0.2', dst: '10.9.0.1', length: 84 });
      io.socket(`raw 47 ${A}`).deliver(...[toC2, toC2, toHub].map((inner) => ({ bytes: outerPacket(B, A, 47, greFrame(inner)), addr: ipv4ToNumber(B), port: 0 })));
      expect(io.tun('tnl-c1').take()).toHaveLength(3);
      const drained = engine.drainDestinations('tnl-c1').sort((x, y) => (x.address < y.address ? -1 : 1));
      expect(drained).toEqual(tallyDestinations ? [{ address: '10.9.0.1', bytes: 84 }, { address: '10.9.0.6', bytes: 2000 }] : []);
      expect(engine.drainDestinations('tnl-c1')).toEqual([]);
      await engine.close();
    }
  });

  it('refuses an unknown tunnel with ERR_TUNNEL_NOT_FOUND', () => {
    const engine = new DatapathEngine(new FakeDatapathIo(), { tallyDestinations: true });
    expect(() => engine.drainDestinations('tnl-x')).toThrow(expect.objectContaining({ code: 'ERR_TUNNEL_NOT_FOUND' }));
  });
});

/** A fast route whose counters and tally the test sets; counts how often it was drained. */
class TallyRoute implements FastRoute {
  rxPackets = 0;
  tally: DestinationBytes[] = [];
  drains = 0;
  reads = 0;

  configure(): void {}

  counters(): FastRouteCounters {
    this.reads += 1;
    return { rxPackets: this.rxPackets, rxBytes: 0, txPackets: 0, txBytes: 0, rxQueueFull: 0, txQueueFull: 0, rxErrors: 0, txErrors: 0, msSinceReceive: null };
  }

  drainDestinations(): DestinationBytes[] {
    this.drains += 1;
    const drained = this.tally;
    this.tally = [];
    return drained;
  }

  close(): void {}
}

class TallyRouteIo extends FakeDatapathIo {
  readonly routes = new Map<string, TallyRoute>();
  #next = 0;

  createFastRoute(): FastRoute {
    const route = new TallyRoute();
    this.routes.set(`tnl-${this.#next++}`, route);
    return route;
  }
}

describe('DatapathEngine.drainBusyDestinations', () => {
  it('drains only the tunnels that received something since their last drain, on either path', async () => {
    const io = new TallyRouteIo();
    const engine = new DatapathEngine(io, { tallyDestinations: true });
    for (let i = 0; i < 3; i++) {
      await engine.addTunnel({ name: `tnl-${i}`, encap: 'gre', local: A, remote: `192.0.2.${10 + i}`, address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, keepaliveInterval: 0 });
    }
    expect(engine.drainBusyDestinations()).toEqual(new Map());
    expect([...io.routes.values()].map((route) => route.drains)).toEqual([0, 0, 0]);

    // tnl-0: its fast route received and tallied; tnl-2: the JS path received; tnl-1 stays quiet.
    const fast = io.routes.get('tnl-0')!;
    fast.rxPackets = 2;
    fast.tally = [{ address: '10.9.2.2', bytes: 3000 }];
    const toC0 = ipv4Packet({ src: '10.9.2.2', dst: '10.9.0.2', length: 500 });
    io.socket(`raw 47 ${A}`).deliver({ bytes: outerPacket('192.0.2.12', A, 47, greFrame(toC0)), addr: ipv4ToNumber('192.0.2.12'), port: 0 });
    expect(engine.drainBusyDestinations()).toEqual(new Map([
      ['tnl-0', [{ address: '10.9.2.2', bytes: 3000 }]],
      ['tnl-2', [{ address: '10.9.0.2', bytes: 500 }]],
    ]));
    expect(io.routes.get('tnl-1')!.drains).toBe(0);

    // Nothing more received: nothing drained again, and the quiet route never was.
    expect(engine.drainBusyDestinations()).toEqual(new Map());
    expect([...io.routes.values()].map((route) => route.drains)).toEqual([1, 0, 1]);
    await engine.close();
  });
});

/** The same I/O, with the addon's shared count of tallied packets, which the test moves. */
class CountingTallyRouteIo extends TallyRouteIo {
  tallied = 0;

  destinationTallyCount(): number {
    return this.tallied;
  }
}

describe('DatapathEngine.drainBusyDestinations with the routes\' shared tally count', () => {
  it('reads no route while the count stands still, and drains the busy ones once it moves', async () => {
    const io = new CountingTallyRouteIo();
    const engine = new DatapathEngine(io, { tallyDestinations: true });
    for (let i = 0; i < 3; i++) {
      await engine.addTunnel({ name: `tnl-${i}`, encap: 'gre', local: A, remote: `192.0.2.${10 + i}`, address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, keepaliveInterval: 0 });
    }
    const routes = [...io.routes.values()];
    engine.drainBusyDestinations();
    const readsAfterFirst = routes.map((route) => route.reads);
    expect(engine.drainBusyDestinations()).toEqual(new Map());
    expect(engine.drainBusyDestinations()).toEqual(new Map());
    expect(routes.map((route) => route.reads)).toEqual(readsAfterFirst);
    expect(routes.map((route) => route.drains)).toEqual([0, 0, 0]);

    const busy = io.routes.get('tnl-1')!;
    busy.rxPackets = 4;
    busy.tally = [{ address: '10.9.0.2', bytes: 6000 }];
    io.tallied = 4;
    expect(engine.drainBusyDestinations()).toEqual(new Map([['tnl-1', [{ address: '10.9.0.2', bytes: 6000 }]]]));
    expect(routes.map((route) => route.drains)).toEqual([0, 1, 0]);
    expect(engine.drainBusyDestinations()).toEqual(new Map());
    await engine.close();
  });

  it('drains what the JS path counted while the routes\' count stands still, once', async () => {
    const io = new CountingTallyRouteIo();
    const engine = new DatapathEngine(io, { tallyDestinations: true });
    for (let i = 0; i < 3; i++) {
      await engine.addTunnel({ name: `tnl-${i}`, encap: 'gre', local: A, remote: `192.0.2.${10 + i}`, address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, keepaliveInterval: 0 });
    }
    engine.drainBusyDestinations();
    const toC0 = ipv4Packet({ src: '10.9.2.2', dst: '10.9.0.2', length: 500 });
    io.socket(`raw 47 ${A}`).deliver({ bytes: outerPacket('192.0.2.12', A, 47, greFrame(toC0)), addr: ipv4ToNumber('192.0.2.12'), port: 0 });
    expect(engine.drainBusyDestinations()).toEqual(new Map([['tnl-2', [{ address: '10.9.0.2', bytes: 500 }]]]));
    expect(engine.drainBusyDestinations()).toEqual(new Map());
    // A tunnel removed after its JS path counted is skipped, not an error.
    io.socket(`raw 47 ${A}`).deliver({ bytes: outerPacket('192.0.2.12', A, 47, greFrame(toC0)), addr: ipv4ToNumber('192.0.2.12'), port: 0 });
    await engine.removeTunnel('tnl-2');
    expect(engine.drainBusyDestinations()).toEqual(new Map());
    await engine.close();
  });
});
