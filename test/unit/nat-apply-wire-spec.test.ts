import { describe, expect, it } from 'vitest';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { applyWireSpec } from '../../shared/protocol/apply-wire-spec.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import { FakeDatapathIo } from '../helpers/fake-datapath-io.js';

const base: WireTunnelSpec = {
  name: 'tnl-hub', encap: 'gre', key: 7, local: '192.0.2.2', remote: '198.51.100.1', address: '10.1.12.2/30', peerAddress: '10.1.12.1', mtu: 1472,
};
const binding = { bindingId: 3, key: Buffer.alloc(32, 9).toString('base64url'), role: 'member' as const };

describe('applyWireSpec: a hub-issued spec is the whole state', () => {
  it('moves keyed GRE to FOU with a binding (key dropped) and back (binding dropped), on the same interface', () => {
    const io = new FakeDatapathIo();
    const engine = new DatapathEngine(io);
    try {
      expect(applyWireSpec(engine, base)).toMatchObject({ encap: 'gre', key: 7, binding: null });
      const fou = applyWireSpec(engine, withoutKey({ ...base, encap: "fou", mtu: 1468, auth: binding, helloInterval: 5 }));
      expect(fou).toMatchObject({ encap: 'fou', key: null, binding: { role: 'member', bindingId: 3 } });
      expect(JSON.stringify(fou)).not.toContain(binding.key);
      const back = applyWireSpec(engine, base);
      expect(back).toMatchObject({ encap: 'gre', key: 7, binding: null });
      expect(engine.status()).toHaveLength(1);
    } finally {
      engine.close();
    }
  });
});

function withoutKey(spec: WireTunnelSpec): WireTunnelSpec {
  const { key: _key, ...rest } = spec;
  return rest;
}
