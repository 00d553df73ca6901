import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSshPublicKey } from '../../server/auth/ssh-public-key.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';
import { registrySnapshot, runHubCli } from '../helpers/hub-cli.js';
import { ProtocolMember, type Config } from '../helpers/protocol-member.js';
import { waitUntil } from '../helpers/wait-until.js';
import { withHub, type TestHub } from '../helpers/with-hub.js';

const POOL = '10.1.12.0/24';

/** The routes and metric a config gives one tunnel. */
function routesOf(config: Config, tunnel = 'tnl-hub'): { routes: string[]; metric: unknown } {
  const spec = config.tunnels.find((t) => t.name === tunnel);
  return { routes: (spec?.routes as string[] | undefined) ?? [], metric: spec?.routeMetric };
}

describe('mesh routing through the control plane: routes in every config, prefixes behind members, source filters', () => {
  let hub: TestHub;
  const keys = new Map<string, string>();
  const members = new Map<string, ProtocolMember>();
  const cli = (...args: string[]) => runHubCli(hub.stateDir, args);
  const connect = async (name: string, advertise?: string[]): Promise<ProtocolMember> => {
    const member = await ProtocolMember.connect(hub, name, keys.get(name)!, '127.0.0.1', advertise);
    members.set(name, member);
    return member;
  };
  /** Runs the CLI, then the time until `member` gets a config satisfying `check`. */
  const timed = async (args: string[], member: ProtocolMember, check: (c: Config) => boolean): Promise<number> => {
    const result = await cli(...args);
    expect(result, args.join(' ')).toMatchObject({ code: 0 });
    const start = performance.now();
    await member.configWhere(check, 5_000);
    return performance.now() - start;
  };

  beforeAll(async () => {
    hub = await withHub({ timing: { keepaliveMs: 60_000, livenessMs: 120_000 } });
    for (const name of ['c1', 'c2', 'c3', 'c4']) {
      const pair = generateEd25519KeyPair('test');
      keys.set(name, pair.private);
      await hub.hub.registry.peers.add({ name, sshKey: parseSshPublicKey(pair.public) });
    }
    await connect('c1');
    await connect('c2');
  });

  afterAll(async () => {
    for (const member of members.values()) member.client.close();
    await hub?.close();
  });

  it('gives every member the pool through its hub tunnel at the hub metric, and the hub end its source filter', () => {
    const c1 = members.get('c1')!;
    expect(routesOf(c1.latest)).toEqual({ routes: [POOL], metric: 1000 });
    expect(c1.latest.advertised).toEqual([]);
    expect(hub.datapath.tunnels.get('tnl-c1')).toMatchObject({ sources: ['10.1.12.2/32'], routes: [], routeMetric: 1000 });
    expect(hub.datapath.unreachable).toEqual([POOL]);
  });

  it('`peer route add c2 10.50.2.0/24` reaches c1 within a second; c2 never routes its own prefix to the hub', async () => {
    const c1 = members.get('c1')!;
    const c2 = members.get('c2')!;
    const ms = await timed(['peer', 'route', 'add', 'c2', '10.50.2.0/24'], c1, (c) => routesOf(c).routes.includes('10.50.2.0/24'));
    console.log(`peer route add -> c1's new config: ${Math.round(ms)} ms`);
    expect(ms).toBeLessThan(1_000);
    expect(routesOf(c1.latest).routes).toEqual([POOL, '10.50.2.0/24']);
    const own = await c2.configWhere((c) => c.advertised?.length === 1);
    expect(routesOf(own).routes).toEqual([POOL]);
    expect(own.advertised).toEqual([{ prefix: '10.50.2.0/24', state: 'approved' }]);
    expect(hub.datapath.tunnels.get('tnl-c2')).toMatchObject({ sources: ['10.1.12.6/32', '10.50.2.0/24'], routes: ['10.50.2.0/24'] });
    expect(hub.datapath.unreachable).toEqual([POOL, '10.50.2.0/24']);
    const status = (await hub.hub.status()).peers.find((p) => p.name === 'c2');
    expect(status).toMatchObject({ routes: ['10.50.2.0/24'], spoofed: 0 });
  });

  it('refuses overlapping, malformed, duplicate and unknown routes with a coded error, changing nothing', async () => {
    // Every config acknowledged first, so nothing the members do moves the registry meanwhile.
    await waitUntil(async () => (await hub.hub.status()).peers.every((p) => !p.connected || p.specVersion?.peer.acked === p.specVersion?.peer.issued), 5_000, 'every connected member to ack its latest spec');
    const before = await registrySnapshot(hub.stateDir);
    const refusals: [string[], RegExp][] = [
      [['peer', 'route', 'add', 'c3', '10.50.2.128/25'], /^tunnel-hub: ERR_ROUTE_OVERLAP: 10\.50\.2\.128\/25 overlaps 10\.50\.2\.0\/24, routed behind c2/],
      [['peer', 'route', 'add', 'c3', '10.50.0.0/16'], /^tunnel-hub: ERR_ROUTE_OVERLAP: /],
      [['peer', 'route', 'add', 'c3', '10.1.12.128/25'], /^tunnel-hub: ERR_ROUTE_OVERLAP: .*the hub's pool 10\.1\.12\.0\/24/],
      [['peer', 'route', 'add', 'c3', '10.50.3.1/24'], /^tunnel-hub: ERR_INVALID_CIDR: .*did you mean 10\.50\.3\.0\/24\?/],
      [['peer', 'route', 'add', 'c3', 'lan'], /^tunnel-hub: ERR_INVALID_CIDR: /],
      [['peer', 'route', 'add', 'c3', '224.0.0.0/24'], /^tunnel-hub: ERR_INVALID_CIDR: .*multicast/],
      [['peer', 'route', 'add', 'c2', '10.50.2.0/24'], /^tunnel-hub: ERR_ROUTE_EXISTS: /],
      [['peer', 'route', 'add', 'nobody', '10.50.9.0/24'], /^tunnel-hub: ERR_PEER_NOT_FOUND: /],
      [['peer', 'route', 'approve', 'c3', '10.50.9.0/24'], /^tunnel-hub: ERR_ROUTE_NOT_FOUND: /],
      [['peer', 'route', 'approve', 'c2', '10.50.2.0/24'], /^tunnel-hub: ERR_ROUTE_EXISTS: /],
      [['peer', 'route', 'remove', 'c3', '10.50.9.0/24'], /^tunnel-hub: ERR_ROUTE_NOT_FOUND: /],
      [['peer', 'set', 'c2', '--source-check', 'maybe'], /^tunnel-hub: ERR_INVALID_ARGUMENT: /],
      [['peer', 'set', 'c2'], /^tunnel-hub: ERR_INVALID_ARGUMENT: /],
    ];
    for (const [args, message] of refusals) {
      const result = await cli(...args);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    const after = await registrySnapshot(hub.stateDir);
    for (const table of Object.keys(before.tables)) expect(after.tables[table], table).toEqual(before.tables[table]);
  });

  it('an advertised prefix stays unrouted until approved; an overlapping one is refused and stored nowhere', async () => {
    const c1 = members.get('c1')!;
    const c3 = await connect('c3', ['10.50.3.0/24', '10.50.2.0/25']);
    expect(c3.latest.advertised).toEqual([
      { prefix: '10.50.2.0/25', state: 'refused', code: 'ERR_ROUTE_OVERLAP', message: expect.stringMatching(/routed behind c2/) },
      { prefix: '10.50.3.0/24', state: 'pending' },
    ]);
    const list = JSON.parse((await cli('peer', 'route', 'list', '--json')).stdout) as { peer: string; prefix: string; state: string }[];
    expect(list.map(({ peer, prefix, state }) => ({ peer, prefix, state }))).toEqual([
      { peer: 'c2', prefix: '10.50.2.0/24', state: 'approved' },
      { peer: 'c3', prefix: '10.50.3.0/24', state: 'pending' },
    ]);
    expect(routesOf(c1.latest).routes).not.toContain('10.50.3.0/24');
    expect(hub.datapath.tunnels.get('tnl-c3')).toMatchObject({ sources: ['10.1.12.10/32'], routes: [] });
    const shown = JSON.parse((await cli('peer', 'show', 'c3', '--json')).stdout) as { sourceCheck: boolean; routes: { prefix: string; state: string }[] };
    expect(shown).toMatchObject({ sourceCheck: true, routes: [{ prefix: '10.50.3.0/24', state: 'pending' }] });

    const ms = await timed(['peer', 'route', 'approve', 'c3', '10.50.3.0/24'], c1, (c) => routesOf(c).routes.includes('10.50.3.0/24'));
    expect(ms).toBeLessThan(1_000);
    await c3.configWhere((c) => c.advertised?.some((a) => a.prefix === '10.50.3.0/24' && a.state === 'approved') === true);
    expect(hub.datapath.tunnels.get('tnl-c3')).toMatchObject({ sources: ['10.1.12.10/32', '10.50.3.0/24'], routes: ['10.50.3.0/24'] });
  });

  it('a member that no longer advertises a pending prefix withdraws it; approved ones stay', async () => {
    const c4 = await connect('c4', ['10.50.4.0/24']);
    expect(c4.latest.advertised).toEqual([{ prefix: '10.50.4.0/24', state: 'pending' }]);
    c4.client.close();
    const again = await connect('c4', []);
    expect(again.latest.advertised).toEqual([]);
    expect((JSON.parse((await cli('peer', 'route', 'list', '--json')).stdout) as { peer: string }[]).some((r) => r.peer === 'c4')).toBe(false);
  });

  it('a direct c1<->c2 link carries c2\'s prefix at a metric that beats the hub tunnel\'s', async () => {
    const c1 = members.get('c1')!;
    expect((await cli('link', 'add', 'c1', 'c2')).code).toBe(0);
    const config = await c1.configWhere((c) => c.tunnels.some((t) => t.name === 'tnl-c2'));
    expect(routesOf(config, 'tnl-c2')).toEqual({ routes: ['10.50.2.0/24'], metric: 100 });
    expect(routesOf(config).routes).toContain('10.50.2.0/24');
    // c2's address on the link is routed by the hub through c2's tunnel and accepted from it.
    const c2End = hub.datapath.tunnels.get('tnl-c2');
    expect(c2End?.routes).toContain('10.1.12.18/32');
    expect(c2End?.sources).toContain('10.1.12.18/32');
  });

  it('`peer set c2 --source-check off` lifts the filter on c2\'s hub end; on brings it back', async () => {
    expect((await cli('peer', 'set', 'c2', '--source-check', 'off')).stdout).toMatch(/source check off/);
    await waitUntil(() => hub.datapath.tunnels.get('tnl-c2')?.sources === undefined, 5_000, "tnl-c2's source list to go");
    expect((await cli('peer', 'set', 'c2', '--source-check', 'on')).code).toBe(0);
    await waitUntil(() => hub.datapath.tunnels.get('tnl-c2')?.sources?.includes('10.50.2.0/24') === true, 5_000, 'tnl-c2 to accept 10.50.2.0/24');
  });

  it('`peer route remove` takes the route from every member within a second', async () => {
    const c1 = members.get('c1')!;
    const ms = await timed(['peer', 'route', 'remove', 'c3', '10.50.3.0/24'], c1, (c) => !routesOf(c).routes.includes('10.50.3.0/24'));
    expect(ms).toBeLessThan(1_000);
    expect(hub.datapath.unreachable).not.toContain('10.50.3.0/24');
  });

  it('a revoked member\'s prefixes vanish from every other member, and come back when it is restored', async () => {
    const c1 = members.get('c1')!;
    await timed(['peer', 'revoke', 'c2'], c1, (c) => !routesOf(c).routes.includes('10.50.2.0/24'));
    await members.get('c3')!.configWhere((c) => !routesOf(c).routes.includes('10.50.2.0/24'));
    await timed(['peer', 'restore', 'c2'], c1, (c) => routesOf(c).routes.includes('10.50.2.0/24'));
  });

  it('a removed member\'s prefixes vanish from every other member', async () => {
    const c1 = members.get('c1')!;
    await timed(['peer', 'remove', 'c2'], c1, (c) => !routesOf(c).routes.includes('10.50.2.0/24'));
    await members.get('c3')!.configWhere((c) => !routesOf(c).routes.includes('10.50.2.0/24'));
    expect(hub.datapath.unreachable).toEqual([POOL]);
  });
});

describe('--routing none: no routes anywhere, source filters still', () => {
  let hub: TestHub;
  let member: ProtocolMember | undefined;

  beforeAll(async () => {
    hub = await withHub({ timing: { keepaliveMs: 60_000, livenessMs: 120_000 }, routing: 'none' });
  });

  afterAll(async () => {
    member?.client.close();
    await hub?.close();
  });

  it('pushes no routes and installs none, but filters the member\'s sources', async () => {
    const pair = generateEd25519KeyPair('test');
    await hub.hub.registry.peers.add({ name: 'r1', sshKey: parseSshPublicKey(pair.public) });
    expect((await runHubCli(hub.stateDir, ['peer', 'route', 'add', 'r1', '10.60.1.0/24'])).code).toBe(0);
    member = await ProtocolMember.connect(hub, 'r1', pair.private, '127.0.0.1');
    expect(member.latest.tunnels[0]).not.toHaveProperty('routes');
    // The hub notices the CLI's write at its next poll (REGISTRY_POLL_MS).
    await waitUntil(() => hub.datapath.tunnels.get('tnl-r1')?.sources?.includes('10.60.1.0/24') === true, 5_000, 'tnl-r1 to accept 10.60.1.0/24');
    expect(hub.datapath.tunnels.get('tnl-r1')).toMatchObject({ sources: ['10.1.12.2/32', '10.60.1.0/24'] });
    expect(hub.datapath.tunnels.get('tnl-r1')).not.toHaveProperty('routes');
    expect(hub.datapath.unreachable).toEqual([]);
  });
});
