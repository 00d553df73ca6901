import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EngineHubDatapath } from '../../server/hub/engine-hub-datapath.js';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { KernelRoutes } from '../../shared/routing/kernel-routes.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';
import { ipv4Packet } from '../helpers/test-packets.js';

const MEMBERS = 200;

describe('the hub datapath\'s per-tunnel readings', () => {
  const io = new FakeDatapathIo();
  const engine = new DatapathEngine(io);
  const routes = new KernelRoutes({ apply: async (changes) => changes.map(() => ({ ok: true as const })) });
  const datapath = new EngineHubDatapath(engine, { forward: false, routes, log: pino({ level: 'silent' }) });
  beforeAll(async () => {
    await Promise.all(Array.from({ length: MEMBERS }, (_, i) => engine.addTunnel({
      name: `tnl-m${i}`, encap: 'gre', local: '192.0.2.1', remote: `198.51.100.${(i % 250) + 1}`, key: i + 1,
      address: `10.9.${i >> 6}.${(i % 64) * 4 + 1}/30`, peerAddress: `10.9.${i >> 6}.${(i % 64) * 4 + 2}`, keepaliveInterval: 0,
    })));
  });
  afterEach(async () => vi.restoreAllMocks());

  it('reads one tunnel by its name, not by building every tunnel\'s status (the status of N members stays linear in N)', () => {
    io.tun('tnl-m7').deliver({ bytes: ipv4Packet({ src: '10.9.0.29', dst: '10.9.0.30', length: 300 }), addr: 0, port: 0 });
    const everyTunnel = vi.spyOn(engine, 'status');
    for (let i = 0; i < MEMBERS; i++) {
      datapath.traffic(`tnl-m${i}`);
      datapath.spoofed(`tnl-m${i}`);
      datapath.binding(`tnl-m${i}`);
    }
    expect(everyTunnel).not.toHaveBeenCalled();
    expect(datapath.traffic('tnl-m7')?.tx).toMatchObject({ packets: 1, bytes: 300 });
    expect(datapath.traffic('tnl-m8')?.tx).toMatchObject({ packets: 0, bytes: 0 });
    expect(datapath.spoofed('tnl-m7')).toBe(0);
  });

  it('reads every tunnel at once for a report over every peer: one engine status, no tunnel read on its own', async () => {
    io.tun('tnl-m9').deliver({ bytes: ipv4Packet({ src: '10.9.0.37', dst: '10.9.0.38', length: 200 }), addr: 0, port: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    const everyTunnel = vi.spyOn(engine, 'status');
    const oneTunnel = vi.spyOn(engine, 'tunnelStatus');
    datapath.readAllStatuses();
    for (let i = 0; i < MEMBERS; i++) {
      datapath.traffic(`tnl-m${i}`);
      datapath.spoofed(`tnl-m${i}`);
      datapath.binding(`tnl-m${i}`);
    }
    expect(everyTunnel).toHaveBeenCalledTimes(1);
    expect(oneTunnel).not.toHaveBeenCalled();
    expect(datapath.traffic('tnl-m9')?.tx).toMatchObject({ packets: 1, bytes: 200 });
    // The readings last one turn: the next turn reads afresh.
    await new Promise((resolve) => setImmediate(resolve));
    io.tun('tnl-m9').deliver({ bytes: ipv4Packet({ src: '10.9.0.37', dst: '10.9.0.38', length: 200 }), addr: 0, port: 0 });
    expect(datapath.traffic('tnl-m9')?.tx).toMatchObject({ packets: 2, bytes: 400 });
    expect(oneTunnel).toHaveBeenCalledTimes(1);
  });

  it('reads nothing for a tunnel that does not run, and removing one is harmless', async () => {
    expect(datapath.traffic('tnl-nobody')).toBeUndefined();
    expect(datapath.spoofed('tnl-nobody')).toBeUndefined();
    expect(datapath.binding('tnl-nobody')).toBeUndefined();
    await datapath.remove('tnl-nobody');
    await datapath.remove('tnl-m199');
    expect(datapath.traffic('tnl-m199')).toBeUndefined();
    expect(engine.status()).toHaveLength(MEMBERS - 1);
  });
});

describe('the hub datapath\'s ESP readings', () => {
  it('reports an encrypted tunnel\'s AEAD, SPIs, SA age and ESP drops (never a key), nothing for a cleartext one, and passes rekey dues on', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    const routes = new KernelRoutes({ apply: async (changes) => changes.map(() => ({ ok: true }) as const) });
    const datapath = new EngineHubDatapath(engine, { forward: false, routes, log: pino({ level: 'silent' }) });
    const key = Buffer.alloc(20, 7).toString('base64url');
    const spec = { name: 'tnl-e', encap: 'gre' as const, local: '192.0.2.1', remote: '198.51.100.9', address: '10.9.0.1/30', peerAddress: '10.9.0.2', keepaliveInterval: 0 };
    try {
      await datapath.upsert({ ...spec, esp: { aead: 'aes-gcm', outbound: { spi: 0x1001, key }, inbound: [{ spi: 0x2001, key }] } }, 'e');
      await datapath.upsert({ ...spec, name: 'tnl-c', remote: '198.51.100.10', address: '10.9.0.5/30', peerAddress: '10.9.0.6' }, 'c');
      const encrypted = datapath.encryption('tnl-e');
      expect(encrypted).toEqual({
        encrypted: true, aead: 'aes-gcm', spiIn: [0x2001], spiOut: 0x1001, saAgeSeconds: 0,
        dropsByReason: { 'rx:auth': 0, 'rx:replay': 0, 'rx:no-sa': 0, 'tx:no-sa': 0, 'rx:cleartext': 0 },
      });
      expect(JSON.stringify(encrypted)).not.toContain(key);
      expect(datapath.encryption('tnl-c')).toMatchObject({ encrypted: false, aead: null, spiOut: null });
      expect(datapath.encryption('tnl-nobody')).toBeUndefined();
      const due: string[] = [];
      datapath.onRekeyDue((tunnel) => due.push(tunnel));
      datapath.rekeyIsDue('tnl-e');
      expect(due).toEqual(['tnl-e']);
    } finally {
      await datapath.close();
    }
  });
});
