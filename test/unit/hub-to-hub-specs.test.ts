import { describe, expect, it } from 'vitest';
import { hubToHubSpecs, type HubToHubFacts } from '../../server/cluster/hub-to-hub-specs.js';
import { validateTunnelSpec } from '../../shared/datapath/tunnel-spec.js';
import { tunnelSpecSchema } from '../../shared/protocol/index.js';
import { wireSpecToEngine } from '../../shared/protocol/wire-spec-to-engine.js';

const GRE = { encap: 'gre', encapReason: 'default', pinned: false, encapChangedAt: null } as const;

const facts = (owners: Record<string, string>): HubToHubFacts => ({
  self: { name: 'hub', endpoint: '198.51.100.1' },
  others: [{ name: 'hub3', endpoint: '198.51.100.3' }, { name: 'hub2', endpoint: '198.51.100.2' }],
  links: [
    { id: 1, hubs: ['hub', 'hub2'], prefix: '10.1.12.0/30', inner: ['10.1.12.1', '10.1.12.2'], greKey: 7, ...GRE },
    { id: 2, hubs: ['hub2', 'hub3'], prefix: '10.1.12.4/30', inner: ['10.1.12.5', '10.1.12.6'], greKey: 8, ...GRE },
  ],
  owners: new Map(Object.entries(owners)),
  memberPrefixes: new Map([
    ['c1', ['10.1.12.8/30']],
    ['c2', ['10.1.12.12/30', '10.50.2.0/24', '10.1.12.17/32']],
  ]),
});

describe('the tunnels a hub keeps to the other hubs of its cluster', () => {
  it('run GRE on the pair\'s /30 and key, and carry what the other hub\'s members own', () => {
    const specs = hubToHubSpecs('static', facts({ c1: 'hub', c2: 'hub2' }), 10);
    expect(specs).toEqual([{
      name: 'hub-hub2', encap: 'gre', key: 7, mtu: 1472, keepaliveInterval: 10,
      local: '198.51.100.1', remote: '198.51.100.2', address: '10.1.12.1/30', peerAddress: '10.1.12.2',
      routes: ['10.1.12.12/30', '10.1.12.17/32', '10.50.2.0/24'], routeMetric: 1000,
    }]);
  });

  it('follow a member that moves: its prefixes leave the tunnel of the hub it left', () => {
    const before = hubToHubSpecs('static', facts({ c1: 'hub2', c2: 'hub2' }), 10)[0]?.routes;
    const after = hubToHubSpecs('static', facts({ c1: 'hub', c2: 'hub2' }), 10)[0]?.routes;
    expect(before).toContain('10.1.12.8/30');
    expect(after).not.toContain('10.1.12.8/30');
  });

  it('leave routing to a daemon under --routing none, and skip a hub with no link yet', () => {
    const specs = hubToHubSpecs('none', facts({ c2: 'hub2' }), 10);
    expect(specs.map((s) => s.name)).toEqual(['hub-hub2']);
    expect(specs[0]?.routes).toBeUndefined();
    expect(specs[0]?.routeMetric).toBeUndefined();
  });

  it('take the upper address when this hub sorts second in the pair', () => {
    const specs = hubToHubSpecs('static', { ...facts({}), self: { name: 'hub2', endpoint: '198.51.100.2' }, others: [{ name: 'hub', endpoint: '198.51.100.1' }] }, 10);
    expect(specs[0]).toMatchObject({ name: 'hub-hub', address: '10.1.12.2/30', peerAddress: '10.1.12.1', remote: '198.51.100.1', routes: [] });
  });

  it('run FOU on the same /30 and key when the registry moved the pair there: port 4754 both ends, no binding, a smaller MTU', () => {
    const base = facts({ c2: 'hub2' });
    const gre = hubToHubSpecs('static', base, 10)[0];
    const fou = hubToHubSpecs('static', { ...base, links: base.links.map((l) => ({ ...l, encap: 'fou' as const, encapReason: 'gre-unanswered' })) }, 10)[0];
    expect(fou).toEqual({ ...gre, encap: 'fou', localPort: 4754, remotePort: 4754, mtu: 1464 });
    expect(fou?.auth).toBeUndefined();
    // The wire schema and the engine take it as it is.
    const engine = validateTunnelSpec(wireSpecToEngine(tunnelSpecSchema.parse(fou)));
    expect(engine).toMatchObject({ encap: 'fou', localPort: 4754, remotePort: 4754, key: 7, auth: null, mtu: 1464 });
  });
});
