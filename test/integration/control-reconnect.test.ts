import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runMember } from '../../client/session/run-member.js';
import { connectWs, isRefusal } from '../helpers/protocol-client.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testLogger, withHub, type TestHub } from '../helpers/with-hub.js';

const never = new Promise<never>(() => undefined);

describe('reconnect and liveness', () => {
  let hub: TestHub;
  let stateDir: string;

  beforeEach(async () => {
    hub = await withHub({ timing: { keepaliveMs: 200, livenessMs: 1_000 } });
    stateDir = mkdtempSync(join(tmpdir(), 'tunnel-client-test-'));
  });
  afterEach(async () => {
    await hub.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('a running member reconnects after a hub restart, with the same /30 and no new spec version', async () => {
    await runMember({ stateDir, datapath: new MemoryClientDatapath(), log: testLogger, join: { url: hub.wsUrl, token: await hub.invite(), name: 'ivy' }, once: true, stopped: never });
    const datapath = new MemoryClientDatapath();
    let stop!: () => void;
    const running = runMember({
      stateDir, datapath, log: testLogger, stopped: new Promise<void>((r) => (stop = r)),
      backoff: { baseMs: 50, capMs: 500 },
    });
    await waitUntil(() => hub.hub.plane.liveState().get('ivy')?.connected, 10_000, 'first session');
    const before = hub.hub.plane.liveState().get('ivy')?.session;

    await hub.restart();
    // The new hub process starts with an empty datapath: the member's reconnect re-creates its end.
    expect(hub.datapath.tunnels.size).toBe(0);
    await waitUntil(() => hub.hub.plane.liveState().get('ivy')?.connected, 10_000, 'reconnect');
    expect(hub.hub.plane.liveState().get('ivy')?.session).not.toBe(before);
    await waitUntil(() => hub.datapath.tunnels.get('tnl-ivy'), 10_000, 'hub end re-created');
    expect(hub.datapath.tunnels.get('tnl-ivy')?.address).toBe('10.1.12.1/30');
    expect(datapath.tunnels.get('tnl-hub')?.address).toBe('10.1.12.2/30');
    const link = await hub.hub.registry.links.hubLinkOf('ivy');
    expect(await hub.hub.registry.specs.versions('ivy', link.id)).toMatchObject({ hub: { issued: 1, applied: 1 }, peer: { issued: 1, acked: 1 } });
    stop();
    await running;
  });

  it('marks a silent session down after the liveness timeout', async () => {
    await hub.hub.registry.peers.add({ name: 'jay' });
    const closed: unknown[] = [];
    const onClosed = (message: unknown) => closed.push(message);
    subscribe('tunnel:session:closed', onClosed);
    try {
      const client = await connectWs(hub.wsUrl, { authorization: `Bearer ${await hub.peerToken('jay')}` });
      if (isRefusal(client)) throw new Error('refused');
      client.send(JSON.stringify({ v: 1, type: 'hello', software: 'silent', endpoint: null }));
      await client.next('config');
      expect(hub.hub.plane.liveState().get('jay')?.connected).toBe(true);
      // Say nothing more: no keepalives, as a process stopped by SIGSTOP or killed behind a NAT.
      const { code } = await client.closed;
      expect(code).toBe(4408);
      expect(hub.hub.plane.liveState().get('jay')).toMatchObject({ connected: false, lastError: expect.stringMatching(/^ERR_TIMEOUT/) });
      expect(closed).toContainEqual(expect.objectContaining({ peer: 'jay', code: 'ERR_TIMEOUT' }));
      expect((await hub.hub.status()).peers.find((p) => p.name === 'jay')?.connected).toBe(false);
    } finally {
      unsubscribe('tunnel:session:closed', onClosed);
    }
  });

  it('publishes reconfiguration and ack events', async () => {
    const events: { channel: string; message: unknown }[] = [];
    const listeners = ['tunnel:session:established', 'tunnel:session:reconfigured', 'tunnel:session:acked'].map((channel) => {
      const fn = (message: unknown) => events.push({ channel, message });
      subscribe(channel, fn);
      return () => unsubscribe(channel, fn);
    });
    try {
      await runMember({ stateDir, datapath: new MemoryClientDatapath(), log: testLogger, join: { url: hub.wsUrl, token: await hub.invite(), name: 'kim' }, once: true, stopped: never });
      await waitUntil(() => events.some((e) => e.channel === 'tunnel:session:acked'), 5_000, 'ack event');
      expect(events.map((e) => e.channel)).toEqual(['tunnel:session:established', 'tunnel:session:reconfigured', 'tunnel:session:acked']);
      expect(events[1]?.message).toMatchObject({ peer: 'kim', hubVersion: 1, peerVersion: 1, remote: '127.0.0.1', hubApplied: true });
    } finally {
      for (const off of listeners) off();
    }
  });
});
