import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DatapathEngine, type RekeyDueEvent } from '../../shared/datapath/datapath-engine.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet } from '../helpers/test-packets.js';

// The ESP watch looks only at the tunnel that changed while nothing is encrypted: these check that
// a tunnel turning encrypted among cleartext ones still gets its rekey reported.

const A = '192.0.2.1';
const SPI_OUT = 0x1001;

function spec(i: number, overrides: Partial<TunnelSpecInput> = {}): TunnelSpecInput {
  return { name: `tnl${i}`, encap: 'gre', local: A, remote: `198.51.100.${i + 1}`, address: `10.9.${i}.1/30`, peerAddress: `10.9.${i}.2`, keepaliveInterval: 0, ...overrides };
}

const esp = { aead: 'aes-gcm' as const, outbound: { spi: SPI_OUT, key: randomBytes(20) }, inbound: [{ spi: 0x2001, key: randomBytes(20) }], rekeySequence: 3 };

afterEach(() => {
  vi.useRealTimers();
});

describe('the ESP watch among cleartext tunnels', () => {
  it('starts when a cleartext tunnel is updated to ESP, and reports its rekey', async () => {
    vi.useFakeTimers();
    const io = new FakeDatapathIo();
    const rekeys: RekeyDueEvent[] = [];
    const engine = new DatapathEngine(io, { onRekeyDue: (e) => rekeys.push(e) });
    for (let i = 0; i < 3; i++) await engine.addTunnel(spec(i));
    await engine.update('tnl1', { esp });
    for (let n = 0; n < 4; n++) io.tun('tnl1').deliver({ bytes: ipv4Packet({ src: '10.9.1.1', dst: '10.9.1.2', length: 100 }), addr: 0, port: 0 });
    vi.advanceTimersByTime(1_000);
    expect(rekeys).toEqual([{ name: 'tnl1', spi: SPI_OUT, sequence: 4 }]);
    await engine.close();
  });

  it('starts when an encrypted tunnel is added after cleartext ones', async () => {
    vi.useFakeTimers();
    const io = new FakeDatapathIo();
    const rekeys: RekeyDueEvent[] = [];
    const engine = new DatapathEngine(io, { onRekeyDue: (e) => rekeys.push(e) });
    for (let i = 0; i < 2; i++) await engine.addTunnel(spec(i));
    await engine.addTunnel(spec(2, { esp }));
    for (let n = 0; n < 4; n++) io.tun('tnl2').deliver({ bytes: ipv4Packet({ src: '10.9.2.1', dst: '10.9.2.2', length: 100 }), addr: 0, port: 0 });
    vi.advanceTimersByTime(1_000);
    expect(rekeys).toEqual([{ name: 'tnl2', spi: SPI_OUT, sequence: 4 }]);
    await engine.close();
  });
});
