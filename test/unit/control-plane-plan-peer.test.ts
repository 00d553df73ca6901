import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TunnelError } from '../../shared/errors.js';
import { ENCAPSULATIONS, type Encapsulation } from '../../shared/net/encapsulation.js';
import { parseIpv4Address } from '../../shared/net/ipv4-address.js';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';
import type { PeerStanding } from '../../server/control/control-registry.js';
import type { PeerEndFacts } from '../../server/control/peer-link-specs.js';
import {
  planPeer, type GatheredPeerLink, type LinkFacts, type PeerConfiguration, type PeerFacts, type PeerSnapshot, type PlanSettings,
} from '../../server/control/plan-peer.js';
import { buildLinkTable } from '../../server/registry/link-table.js';
import { HUB_END_NAME } from '../../server/registry/peer-name.js';
import { errorCodeOf } from '../helpers/error-code.js';

const HUB = '198.51.100.1';
const SETTINGS: PlanSettings = { routing: 'static', keepaliveInterval: 10, hubId: 'SHA256:hub' };
const SESSION_KEY = 'S'.repeat(43);

/** A link's table as the registry builds it: `decided` is the recorded path, pins as given. */
function table(network: string, ends: [string, string], decided: Encapsulation | null, pins: [Encapsulation | null, Encapsulation | null] = [null, null], keyless = false) {
  return buildLinkTable({
    network: parseIpv4Address(network), greKey: 77, keyless, decidedEncap: decided,
    ends: [{ name: ends[0], public: null, pinnedEncap: pins[0] }, { name: ends[1], public: null, pinnedEncap: pins[1] }],
  });
}

function snapshot(overrides: Partial<PeerSnapshot> = {}): PeerSnapshot {
  return {
    name: 'alice', seen: '203.0.113.10', reported: '203.0.113.10', probes: {}, encap: null, encapReason: null, esp: null, channelEncrypted: true,
    sessionKey: SESSION_KEY, routeRefusals: [], ...overrides,
  };
}

function linkFacts(overrides: Partial<LinkFacts> = {}): LinkFacts {
  return {
    hubLink: { id: 1, table: table('10.99.0.0', [HUB_END_NAME, 'alice'], null), greKey: 77, keyless: false },
    hubLinkEncrypted: false,
    hubLinkKeying: undefined,
    hubLocal: HUB,
    peerLinks: [],
    memberRouting: { sourceCheck: true, prefixes: [] },
    routingFacts: { pools: ['10.99.0.0/16'], approved: new Map() },
    cluster: undefined,
    ...overrides,
  };
}

const standing: PeerStanding = { revocation: undefined, pinnedEncap: null, encrypt: null };
const serving = (links: LinkFacts = linkFacts(), pin: Encapsulation | null = null): PeerFacts => ({ standing: { revocation: undefined, pinnedEncap: pin, encrypt: null }, servedElsewhere: null, links });

function configure(peer: PeerSnapshot, facts: PeerFacts): PeerConfiguration {
  const plan = planPeer(peer, facts, SETTINGS);
  if (plan.kind !== 'configure') throw new Error(`expected a configuration, got ${plan.why}`);
  return plan;
}

function peerLink(linkId: number, me: PeerEndFacts, other: PeerEndFacts, options: Partial<GatheredPeerLink> = {}): GatheredPeerLink {
  return {
    linkId, other: other.name, table: table(`10.99.1.${(linkId % 60) * 4}`, [me.name, other.name], null), greKey: 77, keyless: false,
    ends: [me, other], pinned: null, key: `K${linkId}`.padEnd(43, 'k'), recordedPath: undefined, keying: undefined, otherEncrypt: null, ...options,
  };
}

describe('planPeer: examples', () => {
  it('retires a removed, a revoked and a moved peer, reading nothing more', () => {
    const removed = planPeer(snapshot(), { standing: undefined, servedElsewhere: null, links: undefined }, SETTINGS);
    expect(removed).toMatchObject({ kind: 'retire', why: 'removed', forget: true, movedTo: null, error: { code: 'ERR_PEER_NOT_FOUND' } });
    const revocation = new TunnelError('ERR_TOKEN_REVOKED', 'revoked');
    const revoked = planPeer(snapshot(), { standing: { revocation, pinnedEncap: null, encrypt: null }, servedElsewhere: null, links: undefined }, SETTINGS);
    expect(revoked).toEqual({ kind: 'retire', why: 'revoked', error: revocation, forget: false, movedTo: null });
    const moved = planPeer(snapshot(), { standing, servedElsewhere: 'hub-b', links: undefined }, SETTINGS);
    expect(moved).toMatchObject({ kind: 'retire', why: 'served-elsewhere', forget: true, movedTo: 'hub-b', error: { code: 'ERR_CLOSED' } });
  });

  it('refuses a member seen over IPv6 when the hub has no IPv6 endpoint', () => {
    expect(errorCodeOf(() => planPeer(snapshot({ seen: '2001:db8::10', reported: null }), serving(linkFacts({ hubLocal: null })), SETTINGS))).toBe('ERR_INVALID_ADDRESS');
  });

  it('a first plan records the hub link path; the same path recorded already is not recorded again', () => {
    const first = configure(snapshot(), serving());
    expect(first.hubLinkPath).toEqual({ linkId: 1, encap: 'gre', reason: 'public' });
    expect(first.hubEnd).toMatchObject({ name: 'tnl-alice', encap: 'gre', key: 77, mtu: 1472, local: HUB, remote: '203.0.113.10' });
    const again = configure(snapshot({ encap: 'gre', encapReason: 'public' }), serving());
    expect(again.hubLinkPath).toBeUndefined();
    expect(again.hubEnd).toEqual(first.hubEnd);
  });

  it('a path recorded anew gives the table that path has: NAT detected on a GRE table moves to FOU without the key', () => {
    const plan = configure(snapshot({ reported: '192.168.1.5', encap: 'gre', encapReason: 'public' }), serving());
    expect(plan.hubLinkPath).toEqual({ linkId: 1, encap: 'fou', reason: 'nat-detected' });
    expect(plan.hubEnd).toMatchObject({ encap: 'fou', mtu: 1468, auth: { bindingId: 1, key: SESSION_KEY, role: 'hub' } });
    expect(plan.hubEnd).not.toHaveProperty('key');
    expect(plan.config.links[0]).toMatchObject({ encap: 'fou', key: null, mtu: 1468 });
    // Back to GRE: the key returns, unless the link is keyless.
    const back = configure(snapshot({ encap: 'fou', encapReason: 'nat-detected' }), serving(linkFacts({ hubLink: { id: 1, table: table('10.99.0.0', [HUB_END_NAME, 'alice'], 'fou'), greKey: 77, keyless: false } })));
    expect(back.hubEnd).toMatchObject({ encap: 'gre', key: 77, mtu: 1472 });
    const keyless = configure(snapshot({ encap: 'fou', encapReason: 'nat-detected' }), serving(linkFacts({ hubLink: { id: 1, table: table('10.99.0.0', [HUB_END_NAME, 'alice'], 'fou', [null, null], true), greKey: 77, keyless: true } })));
    expect(keyless.hubEnd).toMatchObject({ encap: 'gre', mtu: 1476 });
    expect(keyless.hubEnd).not.toHaveProperty('key');
  });

  it('a peer link between two NATed ends gets no tunnel but a path saying why, recorded once', () => {
    const me = { name: 'alice', seen: '203.0.113.10', reported: '192.168.1.5' };
    const other = { name: 'bob', seen: '203.0.113.20', reported: '192.168.2.5' };
    const link = peerLink(5, me, other);
    const plan = configure(snapshot({ reported: me.reported }), serving(linkFacts({ peerLinks: [link] })));
    expect(plan.config.tunnels.map((spec) => spec.name)).toEqual(['tnl-hub']);
    expect(plan.config.paths[1]).toEqual({ tunnel: 'tnl-bob', encap: 'fou', reason: 'both-ends-behind-nat', reachable: false });
    expect(plan.peerLinkPaths).toEqual([{ linkId: 5, encap: 'fou', reason: 'both-ends-behind-nat', decided: 'fou both-ends-behind-nat' }]);
    expect(plan.linked).toEqual(['bob']);
    const recorded = configure(snapshot({ reported: me.reported }), serving(linkFacts({ peerLinks: [{ ...link, recordedPath: 'fou both-ends-behind-nat' }] })));
    expect(recorded.peerLinkPaths).toEqual([]);
  });

  it('tells the member its refused prefixes beside the stored ones, sorted', () => {
    const plan = configure(snapshot({ routeRefusals: [{ prefix: '10.99.4.0/24', state: 'refused', code: 'ERR_ROUTE_OVERLAP', message: 'pool' }] }),
      serving(linkFacts({ memberRouting: { sourceCheck: true, prefixes: [{ prefix: '10.60.0.0/24', state: 'pending' }, { prefix: '10.9.0.0/24', state: 'approved' }] } })));
    expect(plan.config.advertised!.map((outcome) => `${outcome.prefix} ${outcome.state}`)).toEqual(['10.60.0.0/24 pending', '10.9.0.0/24 approved', '10.99.4.0/24 refused']);
  });
});

const publicV4 = fc.integer({ min: 1, max: 254 }).map((i) => `203.0.113.${i}`);
const privateV4 = fc.integer({ min: 1, max: 254 }).map((i) => `192.168.0.${i}`);
const v6 = fc.integer({ min: 1, max: 0xffff }).map((i) => `2001:db8::${i.toString(16)}`);
const seenArb = fc.oneof(publicV4, v6);
const encapArb = fc.constantFrom(...ENCAPSULATIONS);
const pinArb = fc.oneof(fc.constant(null), fc.constant(null), encapArb);
const probe = fc.option(fc.boolean(), { nil: undefined });
const probesArb = fc.record({ gre: probe, fou: probe, gue: probe }, { requiredKeys: [] });
const reasonArb = fc.constantFrom('public', 'nat-detected', 'gre-probe-unanswered', 'fou-unanswered', 'pinned');

/** One end as the hub knows it: seen or not, reporting its own address, a private one or nothing. */
const endArb = (name: string): fc.Arbitrary<PeerEndFacts> => fc.record({
  seen: fc.option(seenArb, { nil: null }),
  reported: fc.option(fc.oneof(seenArb, privateV4), { nil: null }),
}).map((end) => ({ name, ...end }));

/** A whole input to planPeer: the peer, a standing it keeps, up to three peer links. */
const inputArb = fc.record({
  seen: seenArb,
  reported: fc.option(fc.oneof(seenArb, privateV4), { nil: null }),
  probes: probesArb,
  previous: fc.option(fc.record({ encap: encapArb, reason: reasonArb }), { nil: null }),
  withSession: fc.boolean(),
  pin: pinArb,
  keyless: fc.boolean(),
  links: fc.array(fc.record({ other: endArb('x'), otherPin: pinArb, meFirst: fc.boolean(), recorded: fc.option(fc.constantFrom('gre public', 'fou nat-detected', 'gre endpoint-unknown'), { nil: undefined }) }), { maxLength: 3 }),
}).map((input) => {
  const peer = snapshot({
    seen: input.seen, reported: input.reported, probes: input.probes as PeerSnapshot['probes'], encap: input.previous?.encap ?? null,
    encapReason: input.previous?.reason ?? null, sessionKey: input.withSession ? SESSION_KEY : undefined,
  });
  const me: PeerEndFacts = { name: 'alice', seen: peer.seen, reported: peer.reported };
  const peerLinks = input.links.map((link, i): GatheredPeerLink => {
    const other = { ...link.other, name: `peer${i}` };
    const ends: [PeerEndFacts, PeerEndFacts] = link.meFirst ? [me, other] : [other, me];
    const pins: [Encapsulation | null, Encapsulation | null] = link.meFirst ? [input.pin, link.otherPin] : [link.otherPin, input.pin];
    return {
      linkId: 10 + i, other: other.name, table: table(`10.99.1.${i * 4}`, [ends[0].name, ends[1].name], null, pins), greKey: 500 + i, keyless: false,
      ends, pinned: pins[0] ?? pins[1], key: `link-key-${i}`.padEnd(43, 'k'), recordedPath: link.recorded, keying: undefined, otherEncrypt: null,
    };
  });
  const hubTable = table('10.99.0.0', [HUB_END_NAME, 'alice'], input.previous?.encap ?? null, [null, input.pin], input.keyless);
  const hubLocal = peer.seen.includes(':') ? '2001:db8::1' : HUB;
  const facts = serving(linkFacts({ hubLink: { id: 1, table: hubTable, greKey: 77, keyless: input.keyless }, hubLocal, peerLinks }), input.pin);
  return { peer, facts, keyless: input.keyless };
});

/** Every spec the plan hands out: the hub's end and the peer's tunnels. */
const specsOf = (plan: PeerConfiguration): WireTunnelSpec[] => [plan.hubEnd, ...plan.config.tunnels];

describe('planPeer: properties', () => {
  it('is a function of its input: the same input gives the same plan', () => {
    fc.assert(fc.property(inputArb, ({ peer, facts }) => {
      expect(planPeer(peer, facts, SETTINGS)).toEqual(planPeer(peer, facts, SETTINGS));
    }));
  });

  it('aims only at verified addresses: the hub end at the seen one, each peer tunnel at the other end\'s seen one', () => {
    fc.assert(fc.property(inputArb, ({ peer, facts }) => {
      const plan = configure(peer, facts);
      expect(plan.hubEnd.remote).toBe(peer.seen);
      for (const spec of plan.config.tunnels.slice(1)) {
        const link = facts.links!.peerLinks.find((candidate) => `tnl-${candidate.other}` === spec.name)!;
        const other = link.ends.find((end) => end.name === link.other)!;
        expect(spec.remote).toBe(other.seen);
      }
    }));
  });

  it('keeps no key at rest: the stored specs carry neither the session key nor any link key', () => {
    fc.assert(fc.property(inputArb, ({ peer, facts }) => {
      const plan = configure(peer, facts);
      const stored = JSON.stringify(plan.stored);
      expect(stored).not.toContain(SESSION_KEY);
      for (const link of facts.links!.peerLinks) expect(stored).not.toContain(link.key);
      // What the registry keeps differs from what runs only in the keys.
      const digestless = (text: string) => text.replace(/"key":"[^"]*"/g, '"key":"-"');
      expect(digestless(stored)).toBe(digestless(JSON.stringify({ hubEnd: plan.hubEnd, config: plan.config })));
    }));
  });

  it('records a path only when it changed, and every spec runs the path its table says', () => {
    fc.assert(fc.property(inputArb, ({ peer, facts, keyless }) => {
      const plan = configure(peer, facts);
      const unchanged = peer.encap === plan.choice.encap && peer.encapReason === plan.choice.reason;
      expect(plan.hubLinkPath === undefined).toBe(unchanged);
      if (plan.hubLinkPath) expect(plan.hubEnd.encap).toBe(plan.choice.encap);
      expect(plan.config.tunnels[0]!.encap).toBe(plan.hubEnd.encap);
      for (const path of plan.peerLinkPaths) {
        expect(path.decided).toBe(`${path.encap} ${path.reason}`);
        const link = facts.links!.peerLinks.find((candidate) => candidate.linkId === path.linkId)!;
        expect(link.recordedPath).not.toBe(path.decided);
        expect(plan.config.paths.find((shown) => shown.tunnel === `tnl-${link.other}`)).toMatchObject({ encap: path.encap, reason: path.reason });
      }
      expect(plan.config.links).toHaveLength(1 + facts.links!.peerLinks.length);
      expect(plan.config.paths).toHaveLength(1 + facts.links!.peerLinks.length);
      for (const spec of specsOf(plan)) {
        const gre = spec.encap === 'gre' || spec.encap === 'gretap';
        if (!gre) expect(spec).not.toHaveProperty('key');
        if (gre && !(keyless && (spec.name === 'tnl-alice' || spec.name === 'tnl-hub'))) expect(spec.key).toEqual(expect.any(Number));
      }
    }));
  });
});
