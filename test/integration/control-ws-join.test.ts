import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readClientState } from '../../client/client-state.js';
import { peerNameFromHostName } from '../../client/default-peer-name.js';
import { runMember } from '../../client/session/run-member.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { TEST_HUB_ENDPOINT, testLogger, withHub, type TestHub } from '../helpers/with-hub.js';

const never = new Promise<never>(() => undefined);

describe('join over WebSocket', () => {
  let hub: TestHub;
  let stateDir: string;

  beforeEach(async () => {
    hub = await withHub();
    stateDir = mkdtempSync(join(tmpdir(), 'tunnel-client-test-'));
  });
  afterEach(async () => {
    await hub.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('redeems an invite, registers the member key, brings up both ends, and `run` resumes with no token', async () => {
    const token = await hub.invite();
    const datapath = new MemoryClientDatapath();
    await runMember({ stateDir, datapath, log: testLogger, join: { url: hub.wsUrl, token, name: 'alice' }, once: true, stopped: never });

    // The member's state: peer name, hub id pinned, key file private.
    const state = readClientState(stateDir);
    expect(state?.peer).toBe('alice');
    expect(state?.hub.hubId).toBe(hub.hub.hubId);
    expect(statSync(join(stateDir, 'identity')).mode & 0o777).toBe(0o600);
    expect(statSync(join(stateDir, 'client.json')).mode & 0o777).toBe(0o600);

    // The registry: alice exists with one key and the /30 the hub link got.
    const registry = hub.hub.registry;
    const detail = await registry.peers.show('alice');
    expect(detail.sshKeys).toHaveLength(1);
    const link = await registry.links.hubLinkOf('alice');
    expect(link.prefix).toBe('10.1.12.0/30');

    // Both ends: the hub's aims at the seen address only; the member's at the hub's endpoint.
    const hubEnd = hub.datapath.tunnels.get('tnl-alice');
    expect(hubEnd).toMatchObject({ local: TEST_HUB_ENDPOINT, remote: '127.0.0.1', address: '10.1.12.1/30', peerAddress: '10.1.12.2', encap: 'gre', key: link.greKey });
    expect(datapath.tunnels.get('tnl-hub')).toMatchObject({ local: '127.0.0.1', remote: TEST_HUB_ENDPOINT, address: '10.1.12.2/30', peerAddress: '10.1.12.1' });
    expect(state?.config?.version).toBe(1);
    await waitUntil(async () => (await registry.specs.versions('alice', link.id))?.peer.acked === 1, 10_000, 'ack of version 1');
    expect((await registry.specs.versions('alice', link.id))?.hub).toMatchObject({ issued: 1, applied: 1 });

    // `run`: no token, a self-signed client token; same /30, same spec version (nothing changed).
    const again = new MemoryClientDatapath();
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const running = runMember({ stateDir, datapath: again, log: testLogger, stopped });
    await waitUntil(() => hub.hub.plane.liveState().get('alice')?.auth === 'client-key' && hub.hub.plane.liveState().get('alice')?.connected, 10_000, 'client-key session');
    expect(again.tunnels.get('tnl-hub')).toMatchObject({ address: '10.1.12.2/30' });
    expect((await registry.specs.versions('alice', link.id))?.peer.issued).toBe(1);
    const status = (await hub.hub.status()).peers.find((peer) => peer.name === 'alice');
    expect(status).toMatchObject({ connected: true, transport: 'ws', endpoint: { seen: '127.0.0.1', reported: '127.0.0.1' }, nat: false, prefix: '10.1.12.0/30' });
    stop();
    await running;
    await waitUntil(() => hub.hub.plane.liveState().get('alice')?.connected === false, 10_000, 'session closed');
  });

  it('joins with an invite and no name under the host name, made a valid peer name', async () => {
    const token = await hub.invite();
    const expected = peerNameFromHostName(hostname());
    const datapath = new MemoryClientDatapath();
    await runMember({ stateDir, datapath, log: testLogger, join: { url: hub.wsUrl, token }, once: true, stopped: never });
    expect(readClientState(stateDir)?.peer).toBe(expected);
    expect((await hub.hub.registry.peers.show(expected)).sshKeys).toHaveLength(1);
    expect(datapath.tunnels.get('tnl-hub')?.address).toBe('10.1.12.2/30');
  });

  it('joins with a hub-issued peer token and registers the generated key', async () => {
    await hub.hub.registry.peers.add({ name: 'bob' });
    const token = await hub.peerToken('bob');
    const datapath = new MemoryClientDatapath();
    await runMember({ stateDir, datapath, log: testLogger, join: { url: hub.wsUrl, token }, once: true, stopped: never });
    expect(readClientState(stateDir)?.peer).toBe('bob');
    expect((await hub.hub.registry.peers.show('bob')).sshKeys).toHaveLength(1);
    expect(datapath.tunnels.get('tnl-hub')?.address).toBe('10.1.12.2/30');
  });
});
