import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClientState } from '../../client/client-state.js';
import { runMember } from '../../client/session/run-member.js';
import { clusterHubStatus } from '../../client/status/cluster-hub-status.js';
import { createInvite } from '../../server/hub-state/create-invite.js';
import { openHubState } from '../../server/hub-state/hub-state.js';
import { issuePeerCredential } from '../../server/hub-state/issue-peer-credential.js';
import { Registry } from '../../server/registry/registry.js';
import { clusterHub, removeClusterHubs, type ClusterTestHub } from '../helpers/cluster-hubs.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { connectWs, isRefusal, type ProtocolClient } from '../helpers/protocol-client.js';
import { testLogger } from '../helpers/with-hub.js';

const reason = postgresUnavailableReason();
if (reason) console.warn(`skipping the cluster failover tests: ${reason}`);

/** The bound the old hub has to take its end down after a member moved. */
const OLD_END_GONE_MS = 1_000;

describe.skipIf(reason !== null)('members moving between the hubs of a cluster (loopback)', () => {
  let server: PostgresServer;
  let url: string;
  let a: ClusterTestHub;
  let b: ClusterTestHub;
  const dirs: string[] = [];
  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('failover');
    // Each hub listens on its endpoint, so the URLs the cluster lists are the ones members can dial.
    a = await clusterHub(url, 'hub', '127.0.0.1', { pool: '10.1.12.0/24', listen: '127.0.0.1' });
    b = await clusterHub(url, 'hub2', '127.0.0.2', { listen: '127.0.0.2' });
    await a.start();
    await b.start();
  });
  afterAll(async () => {
    await removeClusterHubs([a, b].filter(Boolean));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    server?.close();
  });

  const peerToken = async (name: string): Promise<string> => {
    const state = await openHubState(a.stateDir);
    try {
      if (!(await state.registry.peers.find(name))) await state.registry.peers.add({ name });
      return await issuePeerCredential(state, { name, ttlMs: 3_600_000 });
    } finally {
      await state.close();
    }
  };
  const session = async (hub: ClusterTestHub, token: string): Promise<ProtocolClient & { config: Record<string, unknown> }> => {
    const client = await connectWs(hub.wsUrl, { authorization: `Bearer ${token}` });
    if (isRefusal(client)) throw new Error(`refused: ${client.code} ${client.body}`);
    client.send(JSON.stringify({ v: 1, type: 'hello', software: 'test', endpoint: null }));
    const config = await client.next('config');
    client.send(JSON.stringify({ v: 1, type: 'ack', version: config.version }));
    return Object.assign(client, { config });
  };

  it('lay a GRE tunnel between the two hubs on their own /30, routing what each hub\'s members own', async () => {
    const dave = await session(b, await peerToken('dave'));
    const erin = await session(a, await peerToken('erin'));
    try {
      const registry = a.hub?.registry as Registry;
      const [link] = await registry.hubLinks.list();
      expect(link?.hubs).toEqual(['hub', 'hub2']);
      const daveLink = await registry.links.hubLinkOf('dave');
      const erinLink = await registry.links.hubLinkOf('erin');
      await waitUntil(() => a.datapath.tunnels.get('hub-hub2')?.routes?.includes(daveLink.prefix), 5_000, "hub's route to dave through hub2");
      await waitUntil(() => b.datapath.tunnels.get('hub-hub')?.routes?.includes(erinLink.prefix), 5_000, "hub2's route to erin through hub");
      expect(a.datapath.tunnels.get('hub-hub2')).toMatchObject({
        encap: 'gre', key: link?.greKey, local: '127.0.0.1', remote: '127.0.0.2', address: `${link?.inner[0]}/30`, peerAddress: link?.inner[1],
      });
      expect(a.datapath.tunnels.get('hub-hub2')?.routes).not.toContain(erinLink.prefix);
      expect(b.datapath.tunnels.get('hub-hub')).toMatchObject({ address: `${link?.inner[1]}/30`, peerAddress: link?.inner[0] });
      // Every member is told the whole cluster and which hub serves it.
      expect(dave.config.cluster).toEqual({
        hub: 'hub2',
        hubs: [
          { name: 'hub', url: `ws://127.0.0.1:${a.hub?.wsPort}`, endpoint: '127.0.0.1', hostKey: a.hub?.hubId, sshPort: a.hub?.sshPort },
          { name: 'hub2', url: `ws://127.0.0.2:${b.hub?.wsPort}`, endpoint: '127.0.0.2', hostKey: b.hub?.hubId, sshPort: b.hub?.sshPort },
        ],
      });
    } finally {
      dave.close();
      erin.close();
    }
  });

  it(`move a member with its /30 when it connects to the other hub; the old hub takes its end down within ${OLD_END_GONE_MS} ms`, async () => {
    const token = await peerToken('frank');
    const atA = await session(a, token);
    expect(a.datapath.tunnels.get('tnl-frank')).toBeDefined();
    const address = a.datapath.tunnels.get('tnl-frank')?.address;
    const atB = await session(b, token);
    const moved = Date.now();
    await waitUntil(() => !a.datapath.tunnels.has('tnl-frank'), OLD_END_GONE_MS * 3, "the old hub's end to go");
    const gone = Date.now() - moved;
    console.info(`the old hub removed its end ${gone} ms after the member's new session was configured`);
    expect(gone).toBeLessThanOrEqual(OLD_END_GONE_MS);
    expect(b.datapath.tunnels.get('tnl-frank')?.address).toBe(address);
    expect((await atA.closed).reason).toBe('ERR_CLOSED');
    expect(atA.received).toContainEqual(expect.objectContaining({ type: 'error', code: 'ERR_CLOSED', message: expect.stringMatching(/moved to hub hub2/) }));
    const registry = b.hub?.registry as Registry;
    expect(await registry.sessions.owner('frank')).toBe('hub2');
    // hub now routes frank's /30 through hub2.
    const frankLink = await registry.links.hubLinkOf('frank');
    await waitUntil(() => a.datapath.tunnels.get('hub-hub2')?.routes?.includes(frankLink.prefix), 5_000, "hub's route to frank through hub2");
    atB.close();
  });

  it('move a running member to the other hub when its own stops answering, keeping its /30 and addresses', async () => {
    const state = await openHubState(a.stateDir);
    const invite = await createInvite(state, { ttlMs: 3_600_000, uses: 1 }).finally(() => state.close());
    const memberDir = mkdtempSync(join(tmpdir(), 'tunnel-failover-member-'));
    dirs.push(memberDir);
    const datapath = new MemoryClientDatapath();
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const running = runMember({ stateDir: memberDir, datapath, log: testLogger, join: { url: a.wsUrl, token: invite.token, name: 'carol' }, stopped,
      backoff: { baseMs: 200, capMs: 2_000 } });
    try {
      await waitUntil(() => readClientState(memberDir)?.config?.cluster?.hubs.length === 2, 10_000, 'a config listing both hubs');
      const before = datapath.tunnels.get('tnl-hub');
      expect(before).toMatchObject({ remote: '127.0.0.1' });
      expect(clusterHubStatus(memberDir)).toEqual({ name: 'hub', url: a.wsUrl });

      const killed = Date.now();
      await a.stop();
      await waitUntil(() => datapath.tunnels.get('tnl-hub')?.remote === '127.0.0.2', 10_000, 'the member to move to hub2');
      console.info(`member moved to hub2 ${Date.now() - killed} ms after its hub stopped`);
      const after = datapath.tunnels.get('tnl-hub');
      expect(after).toMatchObject({ address: before?.address, peerAddress: before?.peerAddress });
      expect(b.datapath.tunnels.get('tnl-carol')).toMatchObject({ address: `${before?.peerAddress}/30`, local: '127.0.0.2' });
      await waitUntil(() => clusterHubStatus(memberDir)?.name === 'hub2', 5_000, 'status to name hub2');
      expect(readClientState(memberDir)?.hub).toMatchObject({ url: b.wsUrl, hubId: b.hub?.hubId });
    } finally {
      stop();
      await running.catch(() => undefined);
      await a.start();
    }
  });
});
