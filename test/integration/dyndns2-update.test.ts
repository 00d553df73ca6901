import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dyndns2Request, type Dyndns2Reply } from '../helpers/dyndns2-request.js';
import { withHub, type TestHub } from '../helpers/with-hub.js';

describe('dyndns2 update on the WebSocket listener', () => {
  let hub: TestHub;
  let key: string;

  beforeAll(async () => {
    // Generous per-source limits for the main cases; the rate-limit case runs its own hub.
    // The refusals here come from a few loopback addresses, each checked for its answer; the wait
    // a source gets after repeated failed logins is front-door-limits.test.ts's subject.
    hub = await withHub({
      dyndnsLimits: { perPeer: { burst: 50, refillMs: 60_000 }, perSource: { burst: 200, refillMs: 1_000 } },
      doors: { ws: { freeFailures: 1_000 } },
    });
    await hub.hub.registry.peers.add({ name: 'router' });
    await hub.hub.registry.peers.add({ name: 'spare' });
    // Keys come from the in-process registry (the code `peer update-key` runs): a CLI write would
    // make the hub reconcile a second later and refresh the endpoint rows mid-refusal.
    key = await hub.hub.registry.dyndnsKeys.issue('router');
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  afterAll(async () => {
    await hub?.close();
  });

  const update = (query: string, from = '127.0.0.2', auth = `router:${key}`): Promise<Dyndns2Reply> =>
    dyndns2Request(hub.hub.wsPort, { query, auth, localAddress: from });

  it('stores only a hash of the key it printed once', async () => {
    const dump = JSON.stringify(await hub.hub.registry.exportTables());
    expect(dump).not.toContain(key);
    expect(dump).toMatch(/"key_hash":"[0-9a-f]{64}"/);
  });

  it('answers good, reconfigures the hub end within 1 s, then nochg; a move is good again', async () => {
    const started = Date.now();
    const first = await update('hostname=router');
    expect(first).toMatchObject({ status: 200, body: 'good 127.0.0.2\n', code: undefined });
    // A fixed length: ddclient 3.10 cannot read a chunked answer.
    expect(first.headers['content-length']).toBe('15');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(hub.datapath.tunnels.get('tnl-router')).toMatchObject({ remote: '127.0.0.2', local: '198.51.100.1' });
    expect((await hub.hub.registry.endpoints.latest('router'))?.address).toBe('127.0.0.2');
    expect(await update('hostname=router&myip=127.0.0.2')).toMatchObject({ status: 200, body: 'nochg 127.0.0.2\n' });
    const moved = await update('hostname=router&system=dyndns&wildcard=NOCHG', '127.0.0.3');
    expect(moved).toMatchObject({ status: 200, body: 'good 127.0.0.3\n' });
    expect(hub.datapath.tunnels.get('tnl-router')?.remote).toBe('127.0.0.3');
    expect((await hub.hub.registry.links.table((await hub.hub.registry.links.hubLinkOf('router')).id)).ends[1]?.public).toBe('127.0.0.3');
  });

  /** Each refusal: its answer, status and code, and not one row or datapath spec changed. */
  async function refusedUnchanged(send: () => Promise<Dyndns2Reply>, status: number, body: string, code: string): Promise<Dyndns2Reply> {
    const before = await hub.hub.registry.exportTables();
    const upserts = hub.datapath.upserts;
    const reply = await send();
    expect({ status: reply.status, body: reply.body, code: reply.code }).toEqual({ status, body: `${body}\n`, code });
    expect(await hub.hub.registry.exportTables()).toEqual(before);
    expect(hub.datapath.upserts).toBe(upserts);
    return reply;
  }

  it('refuses bad auth: wrong key, no credentials, garbage, another key', async () => {
    const wrong = await refusedUnchanged(() => update('hostname=router', '127.0.0.4', 'router:not-the-key'), 401, 'badauth', 'ERR_UNAUTHENTICATED');
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic /);
    await refusedUnchanged(() => dyndns2Request(hub.hub.wsPort, { query: 'hostname=router', localAddress: '127.0.0.4' }), 401, 'badauth', 'ERR_UNAUTHENTICATED');
    await refusedUnchanged(() => dyndns2Request(hub.hub.wsPort, { query: 'hostname=router', authorization: 'Basic %%%', localAddress: '127.0.0.4' }), 401, 'badauth', 'ERR_UNAUTHENTICATED');
    await refusedUnchanged(() => update('hostname=spare', '127.0.0.4', `spare:${key}`), 401, 'badauth', 'ERR_UNAUTHENTICATED');
  });

  it('refuses an unknown host, and a hostname other than the credentials name', async () => {
    await refusedUnchanged(() => update('hostname=ghost', '127.0.0.4', `ghost:${key}`), 404, 'nohost', 'ERR_PEER_NOT_FOUND');
    await refusedUnchanged(() => update('hostname=spare', '127.0.0.4'), 404, 'nohost', 'ERR_PEER_NOT_FOUND');
  });

  it('answers abuse to a myip other than the request source: the hub aims only at what it sees', async () => {
    await refusedUnchanged(() => update('hostname=router&myip=203.0.113.9', '127.0.0.4'), 403, 'abuse', 'ERR_ENDPOINT_UNVERIFIED');
  });

  it('refuses malformed queries and methods', async () => {
    await refusedUnchanged(() => update('myip=127.0.0.4', '127.0.0.4'), 400, 'notfqdn', 'ERR_INVALID_ARGUMENT');
    await refusedUnchanged(() => update('hostname=router&hostname=spare', '127.0.0.4'), 400, 'notfqdn', 'ERR_INVALID_ARGUMENT');
    await refusedUnchanged(() => update('hostname=router.example.net,spare', '127.0.0.4'), 400, 'notfqdn', 'ERR_INVALID_ARGUMENT');
    await refusedUnchanged(() => update('hostname=router&myip=300.1.2.3', '127.0.0.4'), 400, 'badagent', 'ERR_INVALID_ADDRESS');
    await refusedUnchanged(() => dyndns2Request(hub.hub.wsPort, { query: 'hostname=router', auth: `router:${key}`, method: 'POST' }), 405, 'badagent', 'ERR_INVALID_ARGUMENT');
  });

  it('keeps refusing WebSocket-less requests to other paths as before', async () => {
    const res = await fetch(`http://127.0.0.1:${String(hub.hub.wsPort)}/other`);
    expect(res.status).toBe(426);
  });

  it('refuses a second keyless GRE router behind an address another already comes from', async () => {
    await hub.hub.registry.peers.add({ name: 'keyless1', keyless: true });
    await hub.hub.registry.peers.add({ name: 'keyless2', keyless: true });
    const key1 = await hub.hub.registry.dyndnsKeys.issue('keyless1');
    const key2 = await hub.hub.registry.dyndnsKeys.issue('keyless2');
    expect(await update('hostname=keyless1', '127.0.0.11', `keyless1:${key1}`)).toMatchObject({ status: 200, body: 'good 127.0.0.11\n' });
    const clash = await refusedUnchanged(() => update('hostname=keyless2', '127.0.0.11', `keyless2:${key2}`), 409, 'abuse', 'ERR_ENDPOINT_CONFLICT');
    expect(clash.headers['content-length']).toBe('6');
    // A keyed router behind the same address is told apart by its key: no clash.
    expect(await update('hostname=router', '127.0.0.11')).toMatchObject({ status: 200, body: 'good 127.0.0.11\n' });
    expect(await update('hostname=keyless2', '127.0.0.12', `keyless2:${key2}`)).toMatchObject({ status: 200, body: 'good 127.0.0.12\n' });
    expect(await update('hostname=router', '127.0.0.3')).toMatchObject({ status: 200, body: 'good 127.0.0.3\n' });
  });

  it('restores a router\'s hub end after a hub restart, at its last verified address', async () => {
    expect(hub.datapath.tunnels.get('tnl-router')?.remote).toBe('127.0.0.3');
    await hub.restart();
    expect(hub.datapath.tunnels.get('tnl-router')).toMatchObject({ remote: '127.0.0.3', local: '198.51.100.1' });
    // spare holds no dyndns2 key: a member with a session of its own, not restored.
    expect(hub.datapath.tunnels.has('tnl-spare')).toBe(false);
  });

  it('voids the old key when update-key runs again', async () => {
    const newKey = await hub.hub.registry.dyndnsKeys.issue('router');
    expect(newKey).not.toBe(key);
    await refusedUnchanged(() => update('hostname=router', '127.0.0.4'), 401, 'badauth', 'ERR_UNAUTHENTICATED');
    key = newKey;
    expect(await update('hostname=router', '127.0.0.3')).toMatchObject({ status: 200, body: 'nochg 127.0.0.3\n' });
  });

  it('refuses a revoked peer, even with its current key', async () => {
    await hub.hub.registry.peers.revoke('router');
    await refusedUnchanged(() => update('hostname=router', '127.0.0.4'), 403, 'badauth', 'ERR_TOKEN_REVOKED');
  });

  it('rate-limits per peer and per source, changing nothing when it refuses', async () => {
    const limited = await withHub({ dyndnsLimits: { perPeer: { burst: 2, refillMs: 60_000 }, perSource: { burst: 4, refillMs: 60_000 } } });
    try {
      await limited.hub.registry.peers.add({ name: 'router' });
      const routerKey = await limited.hub.registry.dyndnsKeys.issue('router');
      const send = (from: string, query = 'hostname=router', auth = `router:${routerKey}`): Promise<Dyndns2Reply> =>
        dyndns2Request(limited.hub.wsPort, { query, auth, localAddress: from });
      expect((await send('127.0.0.2')).status).toBe(200);
      expect((await send('127.0.0.3')).status).toBe(200);
      const snapshot = await limited.hub.registry.exportTables();
      const perPeer = await send('127.0.0.5');
      expect({ status: perPeer.status, body: perPeer.body, code: perPeer.code }).toEqual({ status: 429, body: 'abuse\n', code: 'ERR_RATE_LIMITED' });
      expect(Number(perPeer.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.datapath.tunnels.get('tnl-router')?.remote).toBe('127.0.0.3');
      // One source: four requests (refused or not) pass, the fifth is refused before any check.
      for (let i = 0; i < 3; i++) expect((await send('127.0.0.6', 'hostname=router', 'router:wrong')).status).toBe(401);
      expect((await send('127.0.0.6', 'hostname=router', 'router:wrong')).status).toBe(401);
      const perSource = await send('127.0.0.6');
      expect({ status: perSource.status, body: perSource.body, code: perSource.code }).toEqual({ status: 429, body: 'abuse\n', code: 'ERR_RATE_LIMITED' });
      expect(await limited.hub.registry.exportTables()).toEqual(snapshot);
    } finally {
      await limited.close();
    }
  });
});
