import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { runMember } from '../../client/session/run-member.js';
import { MemoryDatapath } from '../../server/hub/memory-datapath.js';
import { PATH_LIVENESS } from '../../shared/protocol/index.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testLogger, withHub, type TestHub } from '../helpers/with-hub.js';

/** Path keepalives come in whole seconds; the hub takes the offer only with timeouts they fit in (pathLivenessFits). */
const TIMING = { keepaliveMs: 1_000, livenessMs: 3_000 };
const PATHS = { keepaliveInterval: 1 };

/** A hub datapath whose every tunnel hears its member (its keepalives always answered) until the test quiets one. */
class HeardHubDatapath extends MemoryDatapath {
  private readonly quietTunnels = new Set<string>();
  private quietListener?: (peer: string, lastHeardAt: number | null) => void;

  pathHeardAt(name: string): number | null {
    return this.tunnels.has(name) && !this.quietTunnels.has(name) ? Date.now() : null;
  }

  onPathQuiet(quiet: (peer: string, lastHeardAt: number | null) => void): void {
    this.quietListener = quiet;
  }

  /** `peer`'s tunnel stops hearing it, and says so as the engine's datapath does. */
  quiet(peer: string): void {
    this.quietTunnels.add(tunnelInterfaceName(peer));
    this.quietListener?.(peer, Date.now());
  }
}

/** A member datapath whose every tunnel hears the hub. */
class HeardClientDatapath extends MemoryClientDatapath {
  pathHeardAt(name: string): number | null {
    return this.tunnels.has(name) ? Date.now() : null;
  }
}

interface RawMember {
  accepted: boolean;
  keepalives: number;
  closed: boolean;
  ws: WebSocket;
}

/** A member over a bare WebSocket: hello, an ack of each config, an answer to each keepalive, counted. */
async function rawMember(hub: TestHub, token: string, offer: boolean): Promise<RawMember> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (offer) headers[PATH_LIVENESS.header] = PATH_LIVENESS.value;
  const ws = new WebSocket(hub.wsUrl, { headers });
  const member: RawMember = { accepted: false, keepalives: 0, closed: false, ws };
  ws.on('upgrade', (response) => {
    member.accepted = response.headers[PATH_LIVENESS.header] === PATH_LIVENESS.value;
  });
  ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as { type: string; version?: number };
    if (message.type === 'keepalive') {
      member.keepalives++;
      ws.send(JSON.stringify({ v: 1, type: 'keepalive' }));
    }
    if (message.type === 'config') ws.send(JSON.stringify({ v: 1, type: 'ack', version: message.version }));
  });
  ws.on('close', () => (member.closed = true));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ v: 1, type: 'hello', software: 'test', endpoint: '127.0.0.1' }));
  return member;
}

describe('path-proven liveness over WebSocket', () => {
  let hub: TestHub | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('a hub whose datapath hears its tunnels accepts the offer, and keeps the member on its tunnel with no keepalive for a while', async () => {
    hub = await withHub({ timing: TIMING, paths: PATHS, datapath: () => new HeardHubDatapath() });
    await hub.hub.registry.peers.add({ name: 'alice' });
    await hub.hub.registry.peers.add({ name: 'bob' });
    const alice = await rawMember(hub, await hub.peerToken('alice'), true);
    const bob = await rawMember(hub, await hub.peerToken('bob'), false);
    expect(alice.accepted).toBe(true);
    expect(bob.accepted).toBe(false);
    // Past a liveness timeout: bob had a keepalive every interval; alice's first is due six intervals after her welcome.
    await wait(TIMING.livenessMs + 500);
    expect(bob.keepalives).toBeGreaterThanOrEqual(3);
    expect(alice.keepalives).toBe(0);
    expect([alice.closed, bob.closed]).toEqual([false, false]);
    expect(hub.hub.plane.liveState().get('alice')?.connected).toBe(true);
    alice.ws.close();
    bob.ws.close();
  });

  it("a hub whose member's tunnel falls quiet sends that member a keepalive at once, and every interval after", async () => {
    const datapath = new HeardHubDatapath();
    hub = await withHub({ timing: TIMING, paths: PATHS, datapath: () => datapath });
    await hub.hub.registry.peers.add({ name: 'alice' });
    const alice = await rawMember(hub, await hub.peerToken('alice'), true);
    await waitUntil(() => hub?.hub.plane.liveState().get('alice')?.connected, 10_000, 'alice connected');
    await wait(TIMING.keepaliveMs * 2);
    expect(alice.keepalives).toBe(0);
    datapath.quiet('alice');
    await waitUntil(() => alice.keepalives >= 1, TIMING.keepaliveMs, 'a keepalive after the quiet');
    await wait(TIMING.keepaliveMs * 2 + 500);
    // She answers each, so she stays though her tunnel proves nothing any more.
    expect(alice.keepalives).toBeGreaterThanOrEqual(3);
    expect(alice.closed).toBe(false);
    alice.ws.close();
  });

  it('a hub whose datapath cannot tell (none) declines, and so does one whose path keepalives are too sparse for its timeouts', async () => {
    hub = await withHub({ timing: TIMING, paths: PATHS });
    await hub.hub.registry.peers.add({ name: 'alice' });
    const alice = await rawMember(hub, await hub.peerToken('alice'), true);
    expect(alice.accepted).toBe(false);
    await wait(TIMING.keepaliveMs * 2 + 500);
    expect(alice.keepalives).toBeGreaterThanOrEqual(2);
    alice.ws.close();
    await hub.close();

    // Path keepalives every 10 s (the default) cannot stand in for a 300 ms liveness timeout.
    hub = await withHub({ timing: { keepaliveMs: 100, livenessMs: 300 }, datapath: () => new HeardHubDatapath() });
    await hub.hub.registry.peers.add({ name: 'alice' });
    const again = await rawMember(hub, await hub.peerToken('alice'), true);
    expect(again.accepted).toBe(false);
    again.ws.close();
  });

  it('tunnel-client offers it, and its session outlives its own liveness timeout on the slow keepalives', async () => {
    hub = await withHub({ timing: TIMING, paths: PATHS, datapath: () => new HeardHubDatapath() });
    const token = await hub.invite();
    const stateDir = mkdtempSync(join(tmpdir(), 'tunnel-client-test-'));
    dirs.push(stateDir);
    let ended = 0;
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const running = runMember({
      stateDir, datapath: new HeardClientDatapath(), log: testLogger, join: { url: hub.wsUrl, token, name: 'alice' }, stopped,
      events: { ended: () => ended++ },
    });
    await waitUntil(() => hub?.hub.plane.liveState().get('alice')?.connected, 10_000, 'alice connected');
    const session = hub.hub.plane.liveState().get('alice')?.connectedAt;
    // Beyond the member's own timeout (three intervals) with no keepalive from the hub: a member
    // that did not count its tunnel would have given up and connected again.
    await wait(TIMING.keepaliveMs * 3 + 1_500);
    expect(ended).toBe(0);
    expect(hub.hub.plane.liveState().get('alice')).toMatchObject({ connected: true, connectedAt: session });
    stop();
    await running;
  });
});
