import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHubCli } from '../helpers/hub-cli.js';
import { dyndns2Request } from '../helpers/dyndns2-request.js';
import { withHub, type TestHub } from '../helpers/with-hub.js';

describe('tunnel-hub peer add|set --no-key and peer config', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await withHub();
  });

  afterAll(async () => {
    await hub?.close();
  });

  const cli = (...args: string[]) => runHubCli(hub.stateDir, args);
  const hubLinkTable = async (name: string): Promise<{ key: number | null; mtu: number }> =>
    JSON.parse((await cli('peer', 'table', name, '--json')).stdout) as { key: number | null; mtu: number };

  it('adds a keyless hub link: no key in its table, the MTU of plain GRE', async () => {
    const added = await cli('peer', 'add', 'mikrotik', '--no-key');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/GRE without a key/);
    expect(await hubLinkTable('mikrotik')).toMatchObject({ key: null, mtu: 1476 });
    const keyed = await cli('peer', 'add', 'openwrt1');
    expect(keyed.code, keyed.stderr).toBe(0);
    expect(await hubLinkTable('openwrt1')).toMatchObject({ key: expect.any(Number), mtu: 1472 });
  });

  it('peer set --no-key / --key switch an existing hub link, and the running hub reissues its end', async () => {
    const key = dyndnsKey('openwrt1');
    const reply = await dyndns2Request(hub.hub.wsPort, { query: 'hostname=openwrt1', auth: `openwrt1:${await key}`, localAddress: '127.0.0.7' });
    expect(reply.body).toBe('good 127.0.0.7\n');
    expect(hub.datapath.tunnels.get('tnl-openwrt1')?.key).toEqual(expect.any(Number));
    const set = await cli('peer', 'set', 'openwrt1', '--no-key');
    expect(set.code, set.stderr).toBe(0);
    expect(await hubLinkTable('openwrt1')).toMatchObject({ key: null });
    // The serve process notices the registry write (data_version poll) and applies a keyless end.
    await expect.poll(() => hub.datapath.tunnels.get('tnl-openwrt1')?.key, { timeout: 5_000 }).toBeUndefined();
    expect(hub.datapath.tunnels.get('tnl-openwrt1')).toMatchObject({ encap: 'gre', remote: '127.0.0.7', mtu: 1476 });
    const unchanged = await cli('peer', 'set', 'openwrt1', '--no-key');
    expect(unchanged.stdout).toMatch(/unchanged/);
    const back = await cli('peer', 'set', 'openwrt1', '--key');
    expect(back.code, back.stderr).toBe(0);
    expect(await hubLinkTable('openwrt1')).toMatchObject({ key: expect.any(Number), mtu: 1472 });
    // The hub applies the keyed end again (and records it) before the next test snapshots the registry.
    await expect.poll(() => hub.datapath.tunnels.get('tnl-openwrt1')?.key, { timeout: 5_000 }).toEqual(expect.any(Number));
    const linkId = (await hub.hub.registry.links.hubLinkOf('openwrt1')).id;
    await expect.poll(async () => {
      const versions = await hub.hub.registry.specs.versions('openwrt1', linkId);
      return versions !== undefined && versions.hub.applied === versions.hub.issued;
    }, { timeout: 5_000 }).toBe(true);
  });

  it('refuses peer set without a setting and for an unknown peer, changing nothing', async () => {
    const before = await hub.hub.registry.exportTables();
    const empty = await cli('peer', 'set', 'openwrt1');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/ERR_INVALID_ARGUMENT: nothing to set/);
    const ghost = await cli('peer', 'set', 'ghost', '--no-key');
    expect(ghost.stderr).toMatch(/ERR_PEER_NOT_FOUND/);
    const badTarget = await cli('peer', 'config', 'mikrotik', 'windows');
    expect(badTarget.stderr).toMatch(/ERR_INVALID_ARGUMENT: unknown target "windows"/);
    const ghostKey = await cli('peer', 'update-key', 'ghost');
    expect(ghostKey.stderr).toMatch(/ERR_PEER_NOT_FOUND/);
    expect(ghostKey.stdout).toBe('');
    expect(await hub.hub.registry.exportTables()).toEqual(before);
  });

  it('renders configs for routers, with the running hub\'s dyndns2 URL in the OpenWrt hook', async () => {
    await dyndns2Request(hub.hub.wsPort, { query: 'hostname=mikrotik', auth: `mikrotik:${await dyndnsKey('mikrotik')}`, localAddress: '127.0.0.8' });
    const routeros = await cli('peer', 'config', 'mikrotik', 'routeros');
    expect(routeros.code, routeros.stderr).toBe(0);
    expect(routeros.stdout).toMatch(/^\/interface gre add name=tnl-hub remote-address=198\.51\.100\.1 mtu=1476 keepalive=10s,10 /m);
    const openwrt = await cli('peer', 'config', 'mikrotik', 'openwrt');
    expect(openwrt.stdout).toContain(`URL="http://mikrotik:$KEY@198.51.100.1:${String(hub.hub.wsPort)}/nic/update?hostname=mikrotik"`);
    const qnx = await cli('peer', 'config', 'mikrotik', 'qnx');
    expect(qnx.stdout).toContain('ifconfig gre0 tunnel 127.0.0.8 198.51.100.1');
    const keyedRouteros = await cli('peer', 'config', 'openwrt1', 'routeros');
    expect(keyedRouteros.code).toBe(1);
    expect(keyedRouteros.stderr).toMatch(/ERR_TARGET_UNSUPPORTED: routeros cannot set a GRE key; run `tunnel-hub peer set openwrt1 --no-key`/);
    const pinned = await cli('peer', 'pin', 'mikrotik', '--encap', 'fou');
    expect(pinned.code, pinned.stderr).toBe(0);
    const fou = await cli('peer', 'config', 'mikrotik', 'openwrt');
    expect(fou.stderr).toMatch(/ERR_TARGET_UNSUPPORTED: openwrt cannot carry fou; run `tunnel-hub peer pin mikrotik --encap gre`/);
    await cli('peer', 'pin', 'mikrotik', '--encap', 'auto');
  });

  async function dyndnsKey(name: string): Promise<string> {
    const issued = await cli('peer', 'update-key', name);
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(issued.stderr).toMatch(/shown once/);
    return issued.stdout.trim();
  }
});
