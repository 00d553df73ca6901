import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseEncapsulation, type EncapFacts, type ProbeResults } from '../../server/control/choose-encapsulation.js';
import { linkEncrypted, peerEncrypts, refuseInsecureChannel } from '../../server/control/link-encryption.js';
import { choosePeerLinkPath, type PeerEndFacts } from '../../server/control/peer-link-specs.js';
import { espCarried, linkEncapFields } from '../../server/registry/link-table.js';
import { ENCAPSULATIONS } from '../../shared/net/encapsulation.js';
import { errorCodeOf } from '../helpers/error-code.js';

const address = fc.constantFrom('203.0.113.10', '198.51.100.20', '192.168.77.2', '192.0.2.50', '2001:db8:77::2', '2001:db8:113::10');
const probe = fc.option(fc.boolean(), { nil: undefined });
const probes: fc.Arbitrary<ProbeResults> = fc.record({ gre: probe, fou: probe, gue: probe }).map((p) => {
  const out: ProbeResults = {};
  for (const k of ['gre', 'fou', 'gue'] as const) if (p[k] !== undefined) out[k] = p[k];
  return out;
});
const encrypted: fc.Arbitrary<EncapFacts> = fc.record({
  pinned: fc.option(fc.constantFrom(...ENCAPSULATIONS), { nil: null }),
  seen: fc.option(address, { nil: null }),
  reported: fc.option(address, { nil: null }),
  probes,
}).map((f) => ({ ...f, encrypted: true }));
const natted = (f: { seen: string | null; reported: string | null }): boolean => f.seen !== null && f.reported !== null && f.seen !== f.reported;

describe('the encrypted ladder (chooseEncapsulation with encrypted)', () => {
  it('ESP always carries GRE, IPIP or gretap, never FOU or GUE, and the link always says how', () => {
    fc.assert(fc.property(encrypted, (f) => {
      const choice = chooseEncapsulation(f);
      expect(['gre', 'ipip', 'gretap']).toContain(choice.encap);
      expect(['raw', 'udp']).toContain(choice.esp);
    }));
  });

  it('ESP in UDP wherever a NAT stands, the GRE-in-ESP probe went unanswered or the pin names a UDP encapsulation; raw ESP otherwise', () => {
    fc.assert(fc.property(encrypted, (f) => {
      const udp = natted(f) || f.probes.gre === false || f.pinned === 'fou' || f.pinned === 'gue';
      expect(chooseEncapsulation(f).esp).toBe(udp ? 'udp' : 'raw');
    }));
  });

  it('a pin keeps its inner protocol (FOU: GRE, GUE: IPIP) and its reason; unpinned links run GRE with the ladder\'s reasons', () => {
    fc.assert(fc.property(encrypted, (f) => {
      const choice = chooseEncapsulation(f);
      if (f.pinned !== null) {
        expect(choice).toMatchObject({ encap: espCarried(f.pinned), reason: 'pinned' });
        return;
      }
      expect(choice.encap).toBe('gre');
      expect(choice.reason).toBe(natted(f) ? 'nat-detected' : choice.esp === 'udp' ? 'gre-probe-unanswered' : 'public');
    }));
  });

  it('the cleartext ladder is untouched: no esp without encryption', () => {
    fc.assert(fc.property(encrypted, (f) => {
      expect(chooseEncapsulation({ ...f, encrypted: false })).not.toHaveProperty('esp');
    }));
  });

  it('an encrypted table carries what ESP carries and an MTU below the cleartext one by ESP\'s overhead', () => {
    fc.assert(fc.property(fc.constantFrom(...ENCAPSULATIONS), fc.boolean(), fc.constantFrom('raw' as const, 'udp' as const), (encap, keyless, esp) => {
      const fields = linkEncapFields(encap, 77, keyless, esp);
      const carried = espCarried(encap);
      expect(fields).toMatchObject({ encap: carried, esp });
      const clear = linkEncapFields(carried, 77, keyless);
      expect(fields.key).toBe(clear.key);
      // 16 bytes of header and IV, 16 of ICV, 2 of trailer, 0-3 of padding; 8 more for UDP.
      const overhead = clear.mtu - fields.mtu;
      expect(overhead).toBeGreaterThanOrEqual(esp === 'udp' ? 42 : 34);
      expect(overhead).toBeLessThanOrEqual(esp === 'udp' ? 45 : 37);
      // The whole outer packet of an inner packet of the MTU fits a 1500-byte path, padded to 4.
      const payload = fields.mtu + (carried === 'ipip' ? 0 : 4 + (fields.key !== null ? 4 : 0) + (carried === 'gretap' ? 14 : 0));
      const outer = 20 + (esp === 'udp' ? 8 : 0) + 16 + Math.ceil((payload + 2) / 4) * 4 + 16;
      expect(outer).toBeLessThanOrEqual(1500);
      expect(outer).toBeGreaterThan(1496);
    }));
    expect(linkEncapFields('gre', 77, false, 'raw').mtu).toBe(1438);
    expect(linkEncapFields('gre', 77, false, 'udp').mtu).toBe(1430);
  });
});

describe('peer<->peer links when encrypted', () => {
  const end: fc.Arbitrary<PeerEndFacts> = fc.record({ name: fc.constant('x'), seen: fc.option(address, { nil: null }), reported: fc.option(address, { nil: null }) });
  it('run the cleartext reachability, with GRE (or the pin\'s inner protocol) in ESP: UDP when either end is behind a NAT', () => {
    fc.assert(fc.property(fc.option(fc.constantFrom(...ENCAPSULATIONS), { nil: null }), end, end, (pin, a, b) => {
      const clear = choosePeerLinkPath(pin, a, b);
      const path = choosePeerLinkPath(pin, a, b, true);
      expect(path.reachable).toBe(clear.reachable);
      expect(path.reason).toBe(clear.reason);
      expect(path.encap).toBe(espCarried(clear.encap));
      expect(path.esp).toBe(natted(a) || natted(b) || clear.encap === 'fou' || clear.encap === 'gue' ? 'udp' : 'raw');
    }));
  });
});

describe('who encrypts', () => {
  const setting = fc.constantFrom('on' as const, 'off' as const, null);
  it('the operator\'s setting wins; else members follow the hub\'s default and routers stay in the clear', () => {
    fc.assert(fc.property(setting, fc.boolean(), fc.boolean(), (s, member, hubDefault) => {
      const encrypts = peerEncrypts({ setting: s, member }, hubDefault);
      if (s !== null) expect(encrypts).toBe(s === 'on');
      else expect(encrypts).toBe(member && hubDefault);
    }));
  });

  it('a link is encrypted exactly when both of its ends encrypt', () => {
    fc.assert(fc.property(setting, fc.boolean(), setting, fc.boolean(), fc.boolean(), (sa, ma, sb, mb, d) => {
      expect(linkEncrypted({ setting: sa, member: ma }, { setting: sb, member: mb }, d))
        .toBe(peerEncrypts({ setting: sa, member: ma }, d) && peerEncrypts({ setting: sb, member: mb }, d));
    }));
  });

  it('refuses to hand keys over plain ws://, saying what to use', () => {
    expect(errorCodeOf(() => refuseInsecureChannel('alice', false))).toBe('ERR_INSECURE_CHANNEL');
    expect(() => refuseInsecureChannel('alice', false)).toThrow(/wss:\/\/.*ssh:\/\//);
    expect(errorCodeOf(() => refuseInsecureChannel('alice', true))).toBeUndefined();
  });
});
