import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';

const LOCAL = '192.0.2.1';
const remoteOf = (i: number): string => `198.51.100.${i + 1}`;

describe('PathMtuWatch: the kernel\'s path MTU for every tunnel, a slice each second', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('reads the tunnels added in a turn, then each slice, in one call per local address, and follows what the kernel learned', async () => {
    const io = new FakeDatapathIo();
    const learned: { name: string; pathMtu: number }[] = [];
    const engine = new DatapathEngine(io, { onPathMtu: ({ name, pathMtu }) => learned.push({ name, pathMtu }) });
    await Promise.all(Array.from({ length: 40 }, (_, i) => engine.addTunnel({
      name: `tnl-m${i}`, encap: 'gre', local: LOCAL, remote: remoteOf(i), address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, keepaliveInterval: 0,
    })));
    // Added together: their paths are read at the end of the turn, in one call, not one each.
    await new Promise((resolve) => setImmediate(resolve));
    expect(io.pathMtuCalls).toEqual({ calls: 1, remotes: 40 });
    const added = { ...io.pathMtuCalls };
    // ICMP taught the kernel a smaller path toward one member since its tunnel was added.
    io.kernelPathMtu.set(`${LOCAL} ${remoteOf(7)}`, 1400);
    vi.advanceTimersByTime(10_000);
    await new Promise((resolve) => setImmediate(resolve));
    // A round of 10 slices over 40 tunnels: 10 calls of 4 remotes, not 40 of one.
    expect(io.pathMtuCalls.calls - added.calls).toBe(10);
    expect(io.pathMtuCalls.remotes - added.remotes).toBe(40);
    expect(learned).toEqual([{ name: 'tnl-m7', pathMtu: 1400 }]);
    expect(engine.tunnelStatus('tnl-m7')).toMatchObject({ pathMtu: 1400, mtu: 1376 });
    expect(engine.tunnelStatus('tnl-m8')).toMatchObject({ pathMtu: null, mtu: 1476 });
    await engine.close();
  });
});
