import { describe, expect, it } from 'vitest';
import { formatLinkTable } from '../../server/hub-state/format-link-table.js';
import { buildLinkTable } from '../../server/registry/link-table.js';
import { parseIpv4Address } from '../../shared/net/ipv4-address.js';

const table = buildLinkTable({
  network: parseIpv4Address('10.1.12.36'),
  greKey: 4660,
  ends: [
    { name: 'hub', public: '198.51.100.1', pinnedEncap: null },
    { name: 'alice', public: '203.0.113.10', pinnedEncap: null },
  ],
});

describe('link tables', () => {
  it('have the docs/cli.md JSON shape, keyed GRE counting its key in the MTU', async () => {
    expect(table).toEqual({
      prefix: '10.1.12.36/30', encap: 'gre', key: 4660, mtu: 1472,
      ends: [
        { name: 'hub', public: '198.51.100.1', inner: '10.1.12.37' },
        { name: 'alice', public: '203.0.113.10', inner: '10.1.12.38' },
      ],
    });
  });

  it('print the two-column table from the hub side', async () => {
    expect(formatLinkTable(table, 'hub')).toBe([
      '                     My end         The other end',
      'Name                 hub            alice',
      'Public IP address    198.51.100.1   203.0.113.10',
      'Address on the /30   10.1.12.37     10.1.12.38',
      'Interface name       tnl-alice      tnl-hub',
      '',
      'Link 10.1.12.36/30: gre, key 4660, mtu 1472',
      '',
    ].join('\n'));
  });

  it('print the same table reversed from the peer side', async () => {
    const text = formatLinkTable(table, 'alice');
    expect(text).toMatch(/\nPublic IP address\s+203\.0\.113\.10\s+198\.51\.100\.1\n/);
    expect(text).toMatch(/\nAddress on the \/30\s+10\.1\.12\.38\s+10\.1\.12\.37\n/);
    expect(text).toMatch(/\nInterface name\s+tnl-hub\s+tnl-alice\n/);
  });

  it('say when a public address is not known yet, and drop the key on UDP paths', async () => {
    const udp = buildLinkTable({
      network: parseIpv4Address('10.1.12.0'),
      greKey: 7,
      ends: [{ name: 'hub', public: '198.51.100.1', pinnedEncap: null }, { name: 'bob', public: null, pinnedEncap: 'gue' }],
    });
    expect(udp).toMatchObject({ encap: 'gue', key: null, mtu: 1468 });
    const text = formatLinkTable(udp, 'hub');
    expect(text).toMatch(/\(not known yet\)/);
    expect(text).toMatch(/Link 10\.1\.12\.0\/30: gue, mtu 1468\n$/);
  });
});
