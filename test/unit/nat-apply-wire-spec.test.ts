import { describe, expect, it } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { applyWireSpec } from '../../shared/protocol/apply-wire-spec.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';

const base: WireTunnelSpec = {
  name: 'tnl-hub', encap: 'gre', key: 7, local: '192.0.2.2', remote: '198.51.100.1', address: '10.1.12.2/30', peerAddress: '10.1.12.1', mtu: 1472,
};
/** Applies `spec`, then reads its tunnel's status (applyWireSpec resolves with nothing). */
async function applied(engine: DatapathEngine, spec: WireTunnelSpec) {
  await applyWireSpec(engine, spec);
  return engine.tunnelStatus(spec.name);
}
const binding = { bindingId: 3, key: Buffer.alloc(32, 9).toString('base64url'), role: 'member' as const };

describe('applyWireSpec: a hub-issued spec is the whole state', () => {
  it('moves keyed GRE to FOU with a binding (key dropped) and back (binding dropped), on the same interface', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    try {
      expect(await applied(engine, base)).toMatchObject({ encap: 'gre', key: 7, binding: null });
      const fou = await applied(engine, withoutKey({ ...base, encap: "fou", mtu: 1468, auth: binding, helloInterval: 5 }));
      expect(fou).toMatchObject({ encap: 'fou', key: null, binding: { role: 'member', bindingId: 3 } });
      expect(JSON.stringify(fou)).not.toContain(binding.key);
      const back = await applied(engine, base);
      expect(back).toMatchObject({ encap: 'gre', key: 7, binding: null });
      expect(engine.status()).toHaveLength(1);
    } finally {
      await engine.close();
    }
  });
});

describe('applyWireSpec: the SAs of an encrypted link', () => {
  const sa = (spi: number, fill: number) => ({ spi, key: Buffer.alloc(20, fill).toString('base64url') });
  const esp = { aead: 'aes-gcm' as const, outbound: sa(0x1001, 1), inbound: [sa(0x2001, 2)] };

  it('runs the spec\'s esp (keys from base64url), changes SAs in place, and a spec without esp turns it off', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    try {
      const on = await applied(engine, { ...base, esp });
      expect(on).toMatchObject({ encrypted: true, aead: 'aes-gcm', spiOut: 0x1001, spiIn: [0x2001] });
      // Make-before-break: the next inbound SA joins, then the outbound moves to it.
      const next = await applied(engine, { ...base, esp: { ...esp, inbound: [sa(0x2002, 3), sa(0x2001, 2)] } });
      expect(next).toMatchObject({ encrypted: true, spiOut: 0x1001, spiIn: expect.arrayContaining([0x2001, 0x2002]) });
      const moved = await applied(engine, { ...base, esp: { ...esp, outbound: sa(0x1002, 4), inbound: [sa(0x2002, 3)] } });
      expect(moved).toMatchObject({ spiOut: 0x1002, spiIn: [0x2002] });
      for (const fill of [1, 2, 3, 4]) expect(JSON.stringify(engine.status())).not.toContain(Buffer.alloc(20, fill).toString('base64url'));
      expect(await applied(engine, base)).toMatchObject({ encrypted: false, aead: null, spiOut: null, spiIn: [] });
      expect(engine.status()).toHaveLength(1);
    } finally {
      await engine.close();
    }
  });

  it('takes ESP in UDP\'s ports from esp.udp', async () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    try {
      const status = await applied(engine, { ...base, esp: { ...esp, udp: { localPort: 4500, remotePort: 4501 } } });
      expect(status).toMatchObject({ encrypted: true, localPort: 4500, remotePort: 4501 });
    } finally {
      await engine.close();
    }
  });
});

function withoutKey(spec: WireTunnelSpec): WireTunnelSpec {
  const { key: _key, ...rest } = spec;
  return rest;
}
