import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runMember } from '../../client/session/run-member.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';
import { parseSshPublicKey } from '../../server/auth/ssh-public-key.js';
import { ConnectionGate } from '../../server/control/connection-gate.js';
import { dyndns2Request } from '../helpers/dyndns2-request.js';
import { registrySnapshot } from '../helpers/hub-cli.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { metricValue } from '../helpers/prometheus-text.js';
import { testLogger, withHub, type TestHub } from '../helpers/with-hub.js';

const never = new Promise<never>(() => undefined);

/** A raw TCP connection from `localAddress` (127.0.0.0/8 is all loopback, so each is a source of its own). */
function rawConnection(port: number, localAddress: string): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolve({ socket, closed }));
    const closed = new Promise<number>((done) => socket.on('close', () => done(Date.now() - started)));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

/** A WebSocket upgrade from `localAddress` with a bearer token; resolves with the HTTP status, or 0 when the connection was closed unanswered. */
function upgradeStatus(url: string, localAddress: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress, headers: { authorization: `Bearer ${token}` } });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? -1));
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => resolve(0));
  });
}

/** An SSH login attempt from `localAddress`: 'ready', 'refused' (auth failed) or 'closed' (no SSH at all). */
function sshLogin(port: number, localAddress: string, username: string, privateKey: string): Promise<{ outcome: 'ready' | 'refused' | 'closed'; client: ssh2.Client }> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let handshaken = false;
    client.on('handshake', () => (handshaken = true));
    client.on('ready', () => resolve({ outcome: 'ready', client }));
    client.on('error', () => resolve({ outcome: handshaken ? 'refused' : 'closed', client }));
    client.on('close', () => resolve({ outcome: handshaken ? 'refused' : 'closed', client }));
    client.connect({ host: '127.0.0.1', port, localAddress, username, privateKey, readyTimeout: 10_000 });
  });
}

describe('front doors under abuse', () => {
  let hub: TestHub;
  let dir: string;

  beforeEach(async () => {
    hub = await withHub({
      doors: {
        ws: { handshakeMs: 400, connectRate: 2, connectBurst: 5, freeFailures: 3, backoffBaseMs: 60_000 },
        ssh: { handshakeMs: 1_000, idleMs: 600, freeFailures: 2, backoffBaseMs: 60_000 },
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'tunnel-limits-test-'));
  });
  afterEach(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends connections that do not finish their handshake in time, however slowly they trickle bytes', async () => {
    const silent = await rawConnection(hub.hub.wsPort, '127.0.0.11');
    const trickle = await rawConnection(hub.hub.wsPort, '127.0.0.12');
    const header = 'GET / HTTP/1.1\r\nHost: hub\r\nX-Padding: ';
    let sent = 0;
    const timer = setInterval(() => {
      if (!trickle.socket.destroyed) trickle.socket.write(header[sent++ % header.length] ?? 'a');
    }, 50);
    const [silentMs, trickleMs] = await Promise.all([silent.closed, trickle.closed]);
    clearInterval(timer);
    expect(silentMs).toBeGreaterThanOrEqual(350);
    expect(silentMs).toBeLessThan(3_000);
    expect(trickleMs).toBeLessThan(3_000);
    expect(hub.hub.gates.ws.stats().timeouts.handshake).toBe(2);
    await waitUntil(() => hub.hub.gates.ws.stats().open === 0, 2_000, 'both connections released');
    expect(hub.hub.gates.ws.stats()).toMatchObject({ open: 0, pending: 0 });
  });

  it('refuses one source over its connection rate while a member elsewhere joins', async () => {
    const opened = await Promise.allSettled(Array.from({ length: 20 }, () => rawConnection(hub.hub.wsPort, '127.0.0.21')));
    const closedAtOnce = await Promise.all(opened.map((result) => (result.status === 'fulfilled'
      ? Promise.race([result.value.closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200))])
      : Promise.resolve(true))));
    expect(closedAtOnce.filter(Boolean).length).toBeGreaterThanOrEqual(14);
    expect(hub.hub.gates.ws.stats().refused.rate).toBeGreaterThanOrEqual(14);
    const datapath = new MemoryClientDatapath();
    await runMember({ stateDir: join(dir, 'member'), datapath, log: testLogger, join: { url: hub.wsUrl, token: await hub.invite(), name: 'alice' }, once: true, stopped: never });
    expect(datapath.tunnels.get('tnl-hub')).toBeDefined();
    for (const result of opened) if (result.status === 'fulfilled') result.value.socket.destroy();
  });

  it('makes a source that keeps failing to log in wait, counts why, and changes nothing in the registry', async () => {
    const before = await registrySnapshot(hub.stateDir);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await upgradeStatus(hub.wsUrl, '127.0.0.31', `bad.token.${i}`));
    // Three free failures, the fourth starts the wait; from then on the source is not even answered.
    expect(statuses).toEqual([401, 401, 401, 401, 0, 0]);
    const stats = hub.hub.gates.ws.stats();
    expect(stats.authFailures).toEqual({ ERR_TOKEN_INVALID: 4 });
    expect(stats.refused['login-backoff']).toBe(2);
    expect(stats.blocked).toBe(1);
    expect(await registrySnapshot(hub.stateDir)).toEqual(before);
    expect(await upgradeStatus(hub.wsUrl, '127.0.0.32', 'bad.token.x')).toBe(401);
  });

  it('counts wrong dyndns2 keys as failed logins: a source guessing keys waits too', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const reply = await dyndns2Request(hub.hub.wsPort, { query: 'hostname=bob', auth: `bob:guess-${i}`, localAddress: '127.0.0.51' })
        .catch(() => ({ status: 0, body: '' }));
      answers.push(`${reply.status} ${reply.body.trim()}`);
    }
    expect(answers).toEqual(['404 nohost', '404 nohost', '404 nohost', '404 nohost', '0 ', '0 ']);
    const stats = hub.hub.gates.ws.stats();
    expect(stats.authFailures).toEqual({ ERR_PEER_NOT_FOUND: 4 });
    expect(stats.refused['login-backoff']).toBe(2);
  });

  it('counts refused SSH keys, makes the source wait, and ends an authenticated connection gone silent', async () => {
    const member = generateEd25519KeyPair('bob@test');
    await hub.hub.registry.peers.add({ name: 'bob', sshKey: parseSshPublicKey(member.public) });
    const stranger = generateEd25519KeyPair('mallory@test');
    const attempts: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { outcome, client } = await sshLogin(hub.hub.sshPort, '127.0.0.41', 'bob', stranger.private);
      attempts.push(outcome);
      client.end();
      await waitUntil(() => hub.hub.gates.ssh.stats().open === 0, 5_000, 'ssh connection closed');
    }
    // One refused key per connection: two free failures, the third starts the wait.
    expect(attempts).toEqual(['refused', 'refused', 'refused', 'closed', 'closed']);
    const stats = hub.hub.gates.ssh.stats();
    expect(stats.authFailures).toEqual({ ERR_SSH_KEY_UNKNOWN: 3 });
    expect(stats.refused['login-backoff']).toBe(2);

    const { outcome, client } = await sshLogin(hub.hub.sshPort, '127.0.0.42', 'bob', member.private);
    expect(outcome).toBe('ready');
    const started = Date.now();
    await new Promise<void>((resolve) => client.on('close', () => resolve()));
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(hub.hub.gates.ssh.stats().timeouts.idle).toBe(1);
  });
});

/** GET /metrics from the admin listener, from `localAddress`. */
function scrape(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

describe('every front door counts every limit in /metrics', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await withHub({
      admin: { host: '127.0.0.1', port: 0 },
      doors: {
        ws: { connectRate: 1, connectBurst: 2, maxPending: 3, handshakeMs: 500, idleMs: 500, freeFailures: 1, backoffBaseMs: 60_000 },
        ssh: { maxPerSource: 1, handshakeMs: 500 },
        admin: { maxConnections: 2, maxPendingPerSource: 1, handshakeMs: 500 },
      },
    });
  });
  afterAll(async () => {
    await hub.close();
  });

  it('rate, caps per source and per door, handshake and idle deadlines, failed logins and the wait after them', async () => {
    const { gates } = hub.hub;
    const idle = async (): Promise<void> => {
      await waitUntil(() => Object.values(gates).every((gate) => gate.stats().pending === 0), 5_000, 'pending connections timed out');
    };
    // WebSocket: a source over its rate; the door full of unauthenticated connections; all of them
    // ended by the handshake deadline.
    const opened = await Promise.allSettled([0, 1, 2].map(() => rawConnection(hub.hub.wsPort, '127.0.0.61')));
    await rawConnection(hub.hub.wsPort, '127.0.0.62');
    await Promise.allSettled([rawConnection(hub.hub.wsPort, '127.0.0.63')]);
    // SSH: a second connection from one source; the admin listener: full, then a source's second pending connection.
    await rawConnection(hub.hub.sshPort, '127.0.0.71');
    await Promise.allSettled([rawConnection(hub.hub.sshPort, '127.0.0.71')]);
    const adminPort = hub.hub.adminPort ?? 0;
    await rawConnection(adminPort, '127.0.0.81');
    await rawConnection(adminPort, '127.0.0.82');
    await Promise.allSettled([rawConnection(adminPort, '127.0.0.83')]);
    await idle();
    await rawConnection(adminPort, '127.0.0.84');
    await Promise.allSettled([rawConnection(adminPort, '127.0.0.84')]);
    await idle();
    // Failed logins: one free, then the source waits; a connection that authenticates and then
    // stays silent meets the idle deadline.
    const logins = [];
    for (let i = 0; i < 3; i++) logins.push(await upgradeStatus(hub.wsUrl, '127.0.0.65', `bad.token.${i}`));
    expect(logins).toEqual([401, 401, 0]);
    await hub.hub.registry.peers.add({ name: 'quiet' });
    const silent = new WebSocket(hub.wsUrl, { localAddress: '127.0.0.66', headers: { authorization: `Bearer ${await hub.peerToken('quiet')}` } });
    silent.on('error', () => undefined);
    await new Promise<void>((resolve) => silent.on('close', () => resolve()));
    for (const result of opened) if (result.status === 'fulfilled') result.value.socket.destroy();

    const text = await scrape(adminPort, '127.0.0.90');
    const series = (name: string, labels: string): number | undefined => metricValue(text, `${name}{${labels}}`);
    const refused = (door: string, reason: string): number | undefined => series('tunnel_frontdoor_refused_connections_total', `door="${door}",reason="${reason}"`);
    const timeouts = (door: string, phase: string): number | undefined => series('tunnel_frontdoor_timeouts_total', `door="${door}",phase="${phase}"`);
    expect({
      wsRate: refused('ws', 'rate'), wsDoorPending: refused('ws', 'door-pending'), wsBackoff: refused('ws', 'login-backoff'),
      wsHandshake: timeouts('ws', 'handshake'), wsIdle: timeouts('ws', 'idle'),
      wsAuthFailures: series('tunnel_auth_failures_total', 'door="ws",code="ERR_TOKEN_INVALID"'), wsBlocked: series('tunnel_frontdoor_blocked_sources', 'door="ws"'),
      sshSourceFull: refused('ssh', 'source-full'), sshHandshake: timeouts('ssh', 'handshake'),
      adminDoorFull: refused('admin', 'door-full'), adminSourcePending: refused('admin', 'source-pending'), adminHandshake: timeouts('admin', 'handshake'),
      adminOpen: series('tunnel_frontdoor_open_connections', 'door="admin"'), wsPending: series('tunnel_frontdoor_pending_connections', 'door="ws"'),
    }).toEqual({
      wsRate: 1, wsDoorPending: 1, wsBackoff: 1, wsHandshake: 3, wsIdle: 1, wsAuthFailures: 2, wsBlocked: 1,
      sshSourceFull: 1, sshHandshake: 1, adminDoorFull: 1, adminSourcePending: 1, adminHandshake: 3, adminOpen: 1, wsPending: 0,
    });
    expect(series('tunnel_frontdoor_accepted_connections_total', 'door="ws"')).toBe(gates.ws.stats().accepted);
  });
});

describe('a gate\'s idle deadline', () => {
  /** A gate on loopback whose accepted sockets authenticate at once; `serverTimeoutMs` imitates a protocol server setting its own timeout (HTTP keep-alive). */
  async function idleRun(serverTimeoutMs: number | null): Promise<{ closedAfterMs: number; idle: number }> {
    const gate = new ConnectionGate({ door: 'admin', timeouts: { handshakeMs: 5_000, idleMs: 300 }, log: testLogger });
    const port = await gate.listen('127.0.0.1', 0, (socket) => {
      gate.established(socket.remoteAddress, socket.remotePort);
      if (serverTimeoutMs !== null) socket.setTimeout(serverTimeoutMs, () => socket.destroy());
    });
    try {
      const { closed } = await rawConnection(port, '127.0.0.91');
      const closedAfterMs = await closed;
      return { closedAfterMs, idle: gate.stats().timeouts.idle };
    } finally {
      await gate.close();
    }
  }

  it('ends a silent authenticated connection and counts it', async () => {
    const run = await idleRun(null);
    expect(run.idle).toBe(1);
    expect(run.closedAfterMs).toBeGreaterThanOrEqual(250);
  });

  it('does not count a timeout the protocol server set itself (a keep-alive ending) as its own', async () => {
    const run = await idleRun(100);
    expect(run.idle).toBe(0);
    expect(run.closedAfterMs).toBeLessThan(250);
  });
});
