import { describe, expect, it, vi } from 'vitest';
import { HubSession } from '../../client/session/hub-session.js';
import { backoffDelay } from '../../client/session/backoff.js';
import type { TunnelError } from '../../shared/errors.js';
import { waitUntil } from '../helpers/wait-until.js';

const spec = (local: string) => ({
  name: 'tnl-hub', encap: 'gre' as const, local, remote: '198.51.100.1', key: 7, address: '10.1.12.2/30', peerAddress: '10.1.12.1', mtu: 1472,
});
const welcome = { v: 1, type: 'welcome', peer: 'alice', session: 's', sessionKey: 'A'.repeat(43), keepaliveMs: 60_000, seen: '203.0.113.10' };
const config = (version: number, local: string) => ({ v: 1, type: 'config', version, tunnels: [spec(local)], links: [] });

function harness(initialApplied = 0) {
  const sent: Record<string, unknown>[] = [];
  const applied: number[] = [];
  let appliedVersion = initialApplied;
  let ended: TunnelError | undefined | 'open' = 'open';
  const session = new HubSession({ localAddress: '203.0.113.10', hubId: null, send: (t) => sent.push(JSON.parse(t)), close: () => undefined }, {
    welcomed: () => undefined,
    apply: async (c) => {
      applied.push(c.version);
      appliedVersion = c.version;
    },
    appliedVersion: () => appliedVersion,
    acknowledged: () => undefined,
    ended: (e) => (ended = e),
  });
  const feed = (m: unknown) => session.receive(Buffer.from(JSON.stringify(m)));
  const acks = () => sent.filter((m) => m.type === 'ack').map((m) => m.version);
  return { session, sent, applied, feed, acks, ended: () => ended };
}

describe('HubSession (client side)', () => {
  it('applies newer configs, ignores stale ones, re-acks the current one', async () => {
    const h = harness();
    h.session.start('test', '203.0.113.10');
    h.feed(welcome);
    h.feed(config(3, '203.0.113.10'));
    h.feed(config(2, '203.0.113.99'));
    h.feed(config(3, '203.0.113.10'));
    h.feed(config(4, '203.0.113.11'));
    // Configs are taken one after the other: the ack of the last one comes last.
    await waitUntil(() => h.acks().includes(4), 5_000, 'the ack of config 4');
    expect(h.applied).toEqual([3, 4]);
    expect(h.acks()).toEqual([3, 3, 4]);
    h.session.end();
  });

  it('treats a config older than the saved one as stale', async () => {
    const h = harness(5);
    h.session.start('test', null);
    h.feed(welcome);
    h.feed(config(4, '203.0.113.10'));
    // A newer config after it: once that one is acknowledged, the stale one was dealt with.
    h.feed(config(6, '203.0.113.10'));
    await waitUntil(() => h.acks().includes(6), 5_000, 'the ack of config 6');
    expect(h.applied).toEqual([6]);
    expect(h.acks()).toEqual([6]);
    h.session.end();
  });

  it('refuses a config before welcome and a client-only message, ending the session with ERR_PROTOCOL', async () => {
    const a = harness();
    a.session.start('test', null);
    a.feed(config(1, '203.0.113.10'));
    expect(a.ended()).toMatchObject({ code: 'ERR_PROTOCOL' });
    expect(a.sent.at(-1)).toMatchObject({ type: 'error', code: 'ERR_PROTOCOL' });
    const b = harness();
    b.session.start('test', null);
    b.feed(welcome);
    b.feed({ v: 1, type: 'hello', software: 'x', endpoint: null });
    expect(b.ended()).toMatchObject({ code: 'ERR_PROTOCOL' });
  });

  it('ends with the hub\'s coded error', () => {
    const h = harness();
    h.session.start('test', null);
    h.feed({ v: 1, type: 'error', code: 'ERR_TOKEN_REVOKED', message: 'revoked' });
    expect(h.ended()).toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
  });

  it('answers each keepalive of the hub with one, and sends none of its own in between', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      const h = harness();
      h.session.start('test', '203.0.113.10');
      h.feed(welcome);
      const keepalives = () => h.sent.filter((m) => m.type === 'keepalive').length;
      vi.advanceTimersByTime(welcome.keepaliveMs * 2);
      expect(keepalives()).toBe(0);
      h.feed({ v: 1, type: 'keepalive' });
      expect(keepalives()).toBe(1);
      h.feed({ v: 1, type: 'keepalive' });
      expect(keepalives()).toBe(2);
      expect(h.ended()).toBe('open');
      // Silence from the hub for its liveness window still ends the session.
      vi.advanceTimersByTime(welcome.keepaliveMs * 3);
      expect(h.ended()).toMatchObject({ code: 'ERR_TIMEOUT' });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('backoffDelay', () => {
  it('grows exponentially with jitter between half and all of the nominal delay, capped', () => {
    const policy = { baseMs: 200, capMs: 10_000 };
    expect(backoffDelay(0, policy, () => 0)).toBe(100);
    expect(backoffDelay(0, policy, () => 1)).toBe(200);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(1200);
    for (let attempt = 0; attempt < 60; attempt++) {
      const delay = backoffDelay(attempt, policy);
      expect(delay).toBeGreaterThanOrEqual(Math.min(10_000, 200 * 2 ** attempt) / 2);
      expect(delay).toBeLessThanOrEqual(10_000);
    }
  });
});
