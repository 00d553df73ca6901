import { describe, expect, it, vi } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';

const LOCAL = '192.0.2.1';
const TUNNELS = 50;

const before = (i: number): string => `198.51.100.${i + 1}`;
const after = (i: number): string => `203.0.113.${i + 1}`;

describe('a storm of moves: the probe each moved tunnel sends on its new path', () => {
  it('leaves at the end of the turn, every moved tunnel\'s in one write per socket, each to its new remote', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    for (let i = 0; i < TUNNELS; i++) {
      await engine.addTunnel({ name: `t${i}`, encap: 'gre', local: LOCAL, remote: before(i), address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, keepaliveInterval: 10 });
    }
    const raw = io.socket(`raw 47 ${LOCAL}`);
    // Each new tunnel probed its path at once, on its own.
    expect(raw.take().map((p) => p.addr)).toEqual(Array.from({ length: TUNNELS }, (_, i) => ipv4ToNumber(before(i))));
    const writes = vi.spyOn(raw, 'writeBatch');

    await Promise.all(Array.from({ length: TUNNELS }, (_, i) => engine.update(`t${i}`, { remote: after(i) })));
    expect(raw.written).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));

    expect(raw.take().map((p) => p.addr).sort((x, y) => x - y)).toEqual(Array.from({ length: TUNNELS }, (_, i) => ipv4ToNumber(after(i))));
    expect(writes).toHaveBeenCalledTimes(1);
    await engine.close();
  });

  it('sends nothing for a tunnel removed before the turn ended, and none on a move that keeps the path', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    for (const i of [0, 1]) {
      await engine.addTunnel({ name: `t${i}`, encap: 'gre', local: LOCAL, remote: before(i), address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, keepaliveInterval: 10 });
    }
    const raw = io.socket(`raw 47 ${LOCAL}`);
    raw.take();
    await engine.update('t0', { remote: after(0) });
    await engine.removeTunnel('t0');
    await engine.update('t1', { mtu: 1400 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(raw.take()).toEqual([]);
    await engine.close();
  });
});
