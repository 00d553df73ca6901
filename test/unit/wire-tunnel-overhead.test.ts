import { describe, expect, it } from 'vitest';
import { tunnelMtu, tunnelOverhead, type TunnelOverheadSpec } from '../../shared/wire/index.js';

describe('tunnelOverhead / tunnelMtu on a 1500-byte path', () => {
  it.each([
    [{ encap: 'gre' }, 1476],
    [{ encap: 'gre', key: true }, 1472],
    [{ encap: 'gre', key: true, sequence: true }, 1468],
    [{ encap: 'gre', key: true, sequence: true, checksum: true }, 1464],
    [{ encap: 'ipip' }, 1480],
    [{ encap: 'ipip', key: true }, 1480],
    [{ encap: 'fou' }, 1468],
    [{ encap: 'fou', inner: 'gre' }, 1468],
    [{ encap: 'fou', inner: 'gre', key: true }, 1464],
    [{ encap: 'fou', inner: 'ipip' }, 1472],
    [{ encap: 'gue', inner: 'gre' }, 1464],
    [{ encap: 'gue', inner: 'ipip' }, 1468],
    [{ encap: 'gue', inner: 'ipip', checksum: true }, 1468],
  ] as const)('%j → %i', (spec, mtu) => {
    expect(tunnelMtu(1500, spec)).toBe(mtu);
    expect(tunnelOverhead(spec)).toBe(1500 - mtu);
  });

  it.each([
    [{ encap: 'gre', outer: 6 }, 1456],
    [{ encap: 'gre', outer: 6, key: true }, 1452],
    [{ encap: 'ipip', outer: 6 }, 1460],
    [{ encap: 'fou', outer: 6, inner: 'gre' }, 1448],
    [{ encap: 'fou', outer: 6, inner: 'gre', key: true }, 1444],
    [{ encap: 'gue', outer: 6, inner: 'ipip' }, 1448],
    [{ encap: 'gre', outer: 4 }, 1476],
  ] as const)('over IPv6 (40-byte header) %j → %i', (spec, mtu) => {
    expect(tunnelMtu(1500, spec)).toBe(mtu);
  });

  it.each<[TunnelOverheadSpec, number]>([
    [{ encap: 'gre', esp: 'raw' }, 1442],
    [{ encap: 'gre', key: true, esp: 'raw' }, 1438],
    [{ encap: 'ipip', esp: 'raw' }, 1446],
    [{ encap: 'gretap', esp: 'raw' }, 1428],
    [{ encap: 'gre', esp: 'udp' }, 1434],
    [{ encap: 'gre', key: true, esp: 'udp' }, 1430],
    [{ encap: 'gre', outer: 6, esp: 'raw' }, 1422],
    [{ encap: 'gre', outer: 6, esp: 'udp' }, 1414],
  ])('with ESP %j → %i, the largest inner packet whose padded ESP packet fits', (spec, mtu) => {
    expect(tunnelMtu(1500, spec)).toBe(mtu);
    // The ESP packet of an MTU-sized inner packet: header 16 + payload padded with 2 to a multiple of 4 + ICV 16.
    const outer = (spec.outer === 6 ? 40 : 20) + (spec.esp === 'udp' ? 8 : 0);
    const payload = mtu + tunnelOverhead({ ...spec, esp: undefined }) - (spec.outer === 6 ? 40 : 20);
    expect(outer + 16 + Math.ceil((payload + 2) / 4) * 4 + 16).toBeLessThanOrEqual(1500);
    expect(outer + 16 + Math.ceil((payload + 1 + 2) / 4) * 4 + 16).toBeGreaterThan(1500);
    expect(tunnelOverhead(spec)).toBeGreaterThanOrEqual(1500 - mtu);
  });

  it('rejects an unknown encapsulation with ERR_INVALID_ARGUMENT', () => {
    expect(() => tunnelOverhead({ encap: 'vxlan' as 'gre' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});
