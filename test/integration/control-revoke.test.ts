import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signClientToken } from '../../client/identity-token.js';
import { loadOrCreateIdentity, type ClientIdentity } from '../../client/identity.js';
import { parseSshPublicKey } from '../../server/auth/ssh-public-key.js';
import { openHubState } from '../../server/hub-state/hub-state.js';
import type { Registry } from '../../server/registry/registry.js';
import { waitUntil } from '../helpers/wait-until.js';
import { connectSsh, connectWs, isRefusal, type ProtocolClient } from '../helpers/protocol-client.js';
import { execOnConnection } from '../helpers/ssh-exec.js';
import { withHub, type TestHub } from '../helpers/with-hub.js';

const hello = JSON.stringify({ v: 1, type: 'hello', software: 'test', endpoint: '127.0.0.1' });

describe('peer revoke and peer remove reach a running hub', () => {
  let hub: TestHub;
  let keyRoot: string;
  const keys = new Map<string, ClientIdentity>();

  /** Registers `name` with its own ed25519 key, as a join would. */
  const addMember = async (name: string): Promise<void> => {
    const identity = loadOrCreateIdentity(join(keyRoot, name));
    keys.set(name, identity);
    await hub.hub.registry.peers.add({ name, sshKey: parseSshPublicKey(identity.publicKeyLine) });
  };
  /** Changes the registry from another connection, as the `tunnel-hub` CLI does while `serve` runs. */
  const asOperator = async (change: (registry: Registry) => Promise<void>): Promise<void> => {
    const state = await openHubState(hub.stateDir);
    try {
      await change(state.registry);
    } finally {
      await state.close();
    }
  };
  /** A WebSocket session authenticated by a token the member signed with its own key. */
  const wsWithOwnKey = async (name: string) => connectWs(hub.wsUrl, {
    authorization: `Bearer ${await signClientToken(keys.get(name)!, name, hub.hub.hubId)}`,
  });
  const established = async (client: ProtocolClient): Promise<ProtocolClient> => {
    client.send(hello);
    await client.next('welcome');
    await client.next('config');
    return client;
  };
  /** Who may connect and what they hold: peers (token versions and revoked_at aside), keys, links, /30s. */
  const membership = (tables: Record<string, unknown[]>): Record<string, unknown[]> => ({
    peers: tables.peers!.map((row) => ({ ...(row as object), token_version: 'any', revoked_at: 'any' })),
    ...Object.fromEntries(['ssh_keys', 'links', 'allocations', 'free_subnets', 'pools', 'invites'].map((name) => [name, tables[name]!])),
  });

  beforeAll(async () => {
    hub = await withHub({ timing: { keepaliveMs: 200, livenessMs: 10_000 } });
    keyRoot = mkdtempSync(join(tmpdir(), 'tunnel-revoke-keys-'));
    for (const name of ['carol', 'dave', 'erin', 'frank']) await addMember(name);
  });
  afterAll(async () => {
    await hub.close();
    rmSync(keyRoot, { recursive: true, force: true });
  });

  it('revoke closes the WS and SSH sessions with ERR_TOKEN_REVOKED, removes the hub ends and refuses the members\' own keys', async () => {
    const carolWs = await wsWithOwnKey('carol');
    if (isRefusal(carolWs)) throw new Error(`carol refused: ${carolWs.code}`);
    const carol = await established(carolWs);
    const dave = await established(await connectSsh(hub.hub.sshPort, 'dave', keys.get('dave')!.privateKeyText));
    const erinWs = await wsWithOwnKey('erin');
    if (isRefusal(erinWs)) throw new Error(`erin refused: ${erinWs.code}`);
    const erin = await established(erinWs);
    await waitUntil(() => ['tnl-carol', 'tnl-dave', 'tnl-erin'].every((name) => hub.datapath.tunnels.has(name)), 10_000, 'hub ends up');
    const before = await hub.hub.registry.exportTables();

    const revokedAt = Date.now();
    await asOperator(async (registry) => {
      await registry.peers.revoke('carol');
      await registry.peers.revoke('dave');
    });
    const carolClosed = await carol.closed;
    const daveClosed = await dave.closed;
    // The watcher polls every second; allow for a loaded machine, but it must not wait for a restart.
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    expect(carolClosed.code).toBe(4401);
    expect(carol.received).toContainEqual(expect.objectContaining({ type: 'error', code: 'ERR_TOKEN_REVOKED' }));
    expect(dave.received).toContainEqual(expect.objectContaining({ type: 'error', code: 'ERR_TOKEN_REVOKED' }));
    expect(daveClosed.reason).toMatch(/^ERR_TOKEN_REVOKED:/);
    await waitUntil(() => !hub.datapath.tunnels.has('tnl-carol') && !hub.datapath.tunnels.has('tnl-dave'), 5_000, 'hub ends removed');
    expect(hub.hub.plane.liveState().get('carol')).toMatchObject({ connected: false, lastError: expect.stringMatching(/^ERR_TOKEN_REVOKED/) });

    // Everyone else keeps serving: erin's session and hub end are untouched.
    expect(hub.datapath.tunnels.has('tnl-erin')).toBe(true);
    expect(hub.hub.plane.liveState().get('erin')?.connected).toBe(true);
    erin.send(JSON.stringify({ v: 1, type: 'keepalive' }));
    expect(erin.received.some((message) => message.type === 'error')).toBe(false);

    // Only the revocation itself changed the registry: /30s, links and keys stay.
    const afterRevoke = await hub.hub.registry.exportTables();
    expect(membership(afterRevoke.tables)).toEqual(membership(before.tables));
    expect(afterRevoke.tables.audit_log!.filter((row) => (row as { action: string }).action === 'peer.revoke')).toHaveLength(2);
    expect(afterRevoke.tables.peers!.filter((row) => (row as { revoked_at: number | null }).revoked_at !== null)).toHaveLength(2);

    // The members' own keys no longer get in, and the refusals change nothing.
    const refused: unknown[] = [];
    const onRefused = (message: unknown) => refused.push(message);
    subscribe('tunnel:session:refused', onRefused);
    try {
      const again = await wsWithOwnKey('carol');
      expect(isRefusal(again) && again.code).toBe('ERR_TOKEN_REVOKED');
      await expect(connectSsh(hub.hub.sshPort, 'dave', keys.get('dave')!.privateKeyText)).rejects.toThrow(/authentication/i);
      expect(refused).toContainEqual(expect.objectContaining({ transport: 'ssh', code: 'ERR_TOKEN_REVOKED' }));
    } finally {
      unsubscribe('tunnel:session:refused', onRefused);
    }
    expect(await hub.hub.registry.exportTables()).toEqual(afterRevoke);
    expect(hub.datapath.tunnels.has('tnl-carol')).toBe(false);
    erin.close();
  });

  it('peer restore re-admits the member with its registered key', async () => {
    await asOperator(async (registry) => {
      await registry.peers.restore('carol');
    });
    const back = await wsWithOwnKey('carol');
    if (isRefusal(back)) throw new Error(`carol still refused: ${back.code}`);
    await established(back);
    await waitUntil(() => hub.datapath.tunnels.has('tnl-carol'), 10_000, 'hub end back');
    await expect(hub.hub.registry.peers.restore('erin')).rejects.toThrow(/not revoked/);
    back.close();
  });

  it('peer remove closes the session and takes the hub\'s own tunnel down without a restart', async () => {
    const frankWs = await wsWithOwnKey('frank');
    if (isRefusal(frankWs)) throw new Error(`frank refused: ${frankWs.code}`);
    const frank = await established(frankWs);
    await waitUntil(() => hub.datapath.tunnels.has('tnl-frank'), 10_000, 'hub end up');
    // The live state is the plane's own map (status and the shortcut keeper read it every second, no copy): it follows the removal.
    const live = hub.hub.plane.liveState();
    expect(live.get('frank')?.connected).toBe(true);
    await asOperator(async (registry) => {
      await registry.peers.remove('frank');
    });
    await frank.closed;
    expect(frank.received).toContainEqual(expect.objectContaining({ type: 'error', code: 'ERR_PEER_NOT_FOUND' }));
    await waitUntil(() => !hub.datapath.tunnels.has('tnl-frank'), 5_000, 'hub end removed');
    expect(hub.hub.plane.liveState().has('frank')).toBe(false);
    expect(live.has('frank')).toBe(false);
    expect(hub.hub.plane.liveState()).toBe(live);
  });

  it('a revoked peer\'s open SSH connection runs no further command and is closed', async () => {
    const client = new ssh2.Client();
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      client.on('ready', () => resolve()).on('error', reject);
      client.connect({ host: '127.0.0.1', port: hub.hub.sshPort, username: 'erin', privateKey: keys.get('erin')!.privateKeyText, readyTimeout: 10_000 });
    });
    const exec = (command: string) => execOnConnection(client, command);
    const before = await exec('table --json');
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toEqual(expect.any(Array));

    await asOperator(async (registry) => {
      await registry.peers.revoke('erin');
    });
    const tablesAfterRevoke = await hub.hub.registry.exportTables();
    const after = await exec('table --json');
    expect(after.code).toBe(1);
    expect(after.stdout).toBe('');
    expect(after.stderr).toMatch(/^ERR_TOKEN_REVOKED: /);
    expect(after.stderr.trim().split('\n')).toHaveLength(1);
    await closed;
    expect(await hub.hub.registry.exportTables()).toEqual(tablesAfterRevoke);
  });
});
