import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClientState } from '../../client/client-state.js';
import { runMember } from '../../client/session/run-member.js';
import { hubStatePaths } from '../../server/hub-state/hub-state-paths.js';
import { createInvite } from '../../server/hub-state/create-invite.js';
import { openHubState } from '../../server/hub-state/hub-state.js';
import { issuePeerCredential } from '../../server/hub-state/issue-peer-credential.js';
import { Registry } from '../../server/registry/registry.js';
import { clusterHub, removeClusterHubs, type ClusterTestHub } from '../helpers/cluster-hubs.js';
import { runHubCli, tempStateDir } from '../helpers/hub-cli.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { connectWs, isRefusal } from '../helpers/protocol-client.js';
import { testLogger } from '../helpers/with-hub.js';

const reason = postgresUnavailableReason();
if (reason) console.warn(`skipping the cluster join tests: ${reason}`);

const never = new Promise<never>(() => undefined);

type RunningHubWithRegistry = NonNullable<ClusterTestHub['hub']>;

describe.skipIf(reason !== null)('hubs joining a cluster on one PostgreSQL registry', () => {
  let server: PostgresServer;
  let url: string;
  let a: ClusterTestHub;
  let b: ClusterTestHub;
  const scratch: string[] = [];
  beforeAll(async () => {
    server = await startPostgres();
    // A password in the URL: it must end up in cluster.json (0600) and nowhere else.
    url = server.url(await server.createDatabase('cluster').then(() => 'cluster'), { password: 'pa55-word' });
    a = await clusterHub(url, 'hub', '198.51.100.1', { pool: '10.1.12.0/24' });
    b = await clusterHub(url, 'hub2', '198.51.100.2');
    await a.start();
    await b.start();
  });
  afterAll(async () => {
    await removeClusterHubs([a, b].filter(Boolean));
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
    server?.close();
  });

  it('keep the registry URL in cluster.json (0600) and no signing key file; the first hub made the cluster', async () => {
    const paths = hubStatePaths(a.stateDir);
    expect(statSync(paths.cluster).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(paths.cluster, 'utf8'))).toEqual({ registry: url, hubName: 'hub' });
    expect(existsSync(paths.signingKey)).toBe(false);
    expect(existsSync(paths.database)).toBe(false);
    const again = await runHubCli(b.stateDir, ['init', '--registry', url, '--hub-name', 'hub2', '--endpoint', '198.51.100.2']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/hub hub2 was already in the cluster/);
    expect(again.stdout + again.stderr).not.toContain('pa55-word');
  });

  it('list both hubs as up from either hub, with endpoints and host keys', async () => {
    for (const hub of [a, b]) {
      const result = await runHubCli(hub.stateDir, ['hubs', '--json']);
      expect(result.code, result.stderr).toBe(0);
      const hubs = JSON.parse(result.stdout) as { name: string; endpoint: string; state: string; hostKeyFingerprint: string; wsUrl: string }[];
      expect(hubs.map((h) => [h.name, h.endpoint, h.state])).toEqual([['hub', '198.51.100.1', 'up'], ['hub2', '198.51.100.2', 'up']]);
      expect(hubs.map((h) => h.hostKeyFingerprint)).toEqual([a.hub?.hubId, b.hub?.hubId]);
      expect(hubs[1]?.wsUrl).toBe(`ws://198.51.100.2:${b.hub?.wsPort}`);
    }
    const text = await runHubCli(a.stateDir, ['hubs']);
    expect(text.stdout).toMatch(/hub2\s+198\.51\.100\.2\s+up/);
  });

  it('refuse a second hub under a taken name, a bad URL and a bad name, changing nothing', async () => {
    const before = await snapshot();
    const state = await tempStateDir();
    scratch.push(join(state.dir, '..'));
    const taken = await runHubCli(state.dir, ['init', '--registry', url, '--hub-name', 'hub', '--endpoint', '198.51.100.9']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/ERR_HUB_EXISTS: /);
    const notPostgres = await runHubCli(state.dir, ['init', '--registry', 'mysql://x', '--hub-name', 'hub3', '--endpoint', '198.51.100.9']);
    expect(notPostgres.stderr).toMatch(/ERR_INVALID_ARGUMENT: --registry takes a PostgreSQL URL/);
    const badName = await runHubCli(state.dir, ['init', '--registry', url, '--hub-name', 'Hub 3', '--endpoint', '198.51.100.9']);
    expect(badName.stderr).toMatch(/ERR_INVALID_ARGUMENT: invalid hub name/);
    const alone = await runHubCli(state.dir, ['init', '--hub-name', 'hub3', '--endpoint', '198.51.100.9']);
    expect(alone.stderr).toMatch(/ERR_INVALID_ARGUMENT: --registry and --hub-name go together/);
    expect(existsSync(hubStatePaths(state.dir).cluster)).toBe(false);
    expect(await snapshot()).toEqual(before);
  });

  it('let any hub verify what another signed: an invite made on one hub joins at the other', async () => {
    const stateA = await openHubState(a.stateDir);
    let token: string;
    try {
      token = (await createInvite(stateA, { ttlMs: 3_600_000, uses: 1 })).token;
    } finally {
      await stateA.close();
    }
    const memberDir = mkdtempSync(join(tmpdir(), 'tunnel-cluster-member-'));
    scratch.push(memberDir);
    await runMember({ stateDir: memberDir, datapath: new MemoryClientDatapath(), log: testLogger, join: { url: b.wsUrl, token, name: 'carol' }, once: true, stopped: never });
    expect(readClientState(memberDir)?.peer).toBe('carol');
    const carolLink = await (b.hub as RunningHubWithRegistry).registry.links.hubLinkOf('carol');
    expect(b.datapath.tunnels.get('tnl-carol')).toMatchObject({ local: '198.51.100.2', address: `${carolLink.inner[0]}/30` });
    // A peer token issued through hub2's state folder is good at hub.
    const stateB = await openHubState(b.stateDir);
    let peerToken: string;
    try {
      await stateB.registry.peers.add({ name: 'dave' });
      peerToken = await issuePeerCredential(stateB, { name: 'dave', ttlMs: 3_600_000 });
    } finally {
      await stateB.close();
    }
    const dave = await connectWs(a.wsUrl, { authorization: `Bearer ${peerToken}` });
    if (isRefusal(dave)) throw new Error(`dave refused: ${dave.code} ${dave.body}`);
    dave.send(JSON.stringify({ v: 1, type: 'hello', software: 'test', endpoint: '127.0.0.1' }));
    await dave.next('config');
    expect(a.datapath.tunnels.get('tnl-dave')).toMatchObject({ local: '198.51.100.1' });
    dave.close();
  });

  it('run every admin command against either hub: a peer added on one is listed on the other', async () => {
    const add = await runHubCli(a.stateDir, ['peer', 'add', 'erin']);
    expect(add.code, add.stderr).toBe(0);
    const list = await runHubCli(b.stateDir, ['peer', 'list', '--json']);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((p) => p.name)).toContain('erin');
    const pools = await runHubCli(b.stateDir, ['pool', 'list', '--json']);
    expect(JSON.parse(pools.stdout)).toEqual([expect.objectContaining({ cidr: '10.1.12.0/24' })]);
  });

  it('show a stopped hub as down at once, and up again when it serves', async () => {
    await a.stop();
    const down = JSON.parse((await runHubCli(b.stateDir, ['hubs', '--json'])).stdout) as { name: string; state: string }[];
    expect(down.find((h) => h.name === 'hub')?.state).toBe('down');
    await a.start();
    await waitUntil(async () => {
      const hubs = JSON.parse((await runHubCli(b.stateDir, ['hubs', '--json'])).stdout) as { name: string; state: string }[];
      return hubs.every((h) => h.state === 'up');
    }, 10_000, 'both hubs up');
  });

  it('refuse joins with ERR_REGISTRY_UNAVAILABLE while the registry is down, and take them again after', async () => {
    const stateA = await openHubState(a.stateDir);
    const token = await createInvite(stateA, { ttlMs: 3_600_000, uses: 1 }).then((r) => r.token).finally(() => stateA.close());
    server.stop('fast');
    try {
      const refused = await connectWs(a.wsUrl, { authorization: `Bearer ${token}`, 'x-tunnel-join-name': 'frank', 'x-tunnel-join-key': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl frank' });
      expect(isRefusal(refused) && refused.code).toBe('ERR_REGISTRY_UNAVAILABLE');
    } finally {
      server.start();
    }
    const memberDir = mkdtempSync(join(tmpdir(), 'tunnel-cluster-member-'));
    scratch.push(memberDir);
    await runMember({ stateDir: memberDir, datapath: new MemoryClientDatapath(), log: testLogger, join: { url: a.wsUrl, token, name: 'frank' }, once: true, stopped: never });
    expect(readClientState(memberDir)?.peer).toBe('frank');
  });

  async function snapshot(): Promise<unknown> {
    const registry = await Registry.open(url, { readonly: true });
    try {
      const { tables } = await registry.exportTables();
      // Heartbeats move on their own; everything else must be exactly as it was.
      return { ...tables, hubs: (tables.hubs as { heartbeat_at: unknown }[]).map((row) => ({ ...row, heartbeat_at: null })) };
    } finally {
      await registry.close();
    }
  }
});
