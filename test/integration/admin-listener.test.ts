import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadOrCreateAdminToken } from '../../server/admin/admin-token.js';
import { unpackStatusView, type PackedStatusView } from '../../server/admin/status-snapshot.js';
import { runMember } from '../../client/session/run-member.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { TUNNEL_TRAFFIC_FAMILIES, metricFamilies, metricProblems, metricValue, promtoolCheck, promtoolUnavailableReason } from '../helpers/prometheus-text.js';
import { dyndns2Request } from '../helpers/dyndns2-request.js';
import { registrySnapshot, runHubCli } from '../helpers/hub-cli.js';
import { testLogger, withHub, type TestHub } from '../helpers/with-hub.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request to the admin listener, answered in full. */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The first `data:` frame of the live page's event stream (its snapshot), parsed and unpacked. */
function firstEvent(port: number, headers: Record<string, string> = {}): Promise<{ peers: { name: string; state: string }[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/events', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        const frame = /^data: (.*)$/m.exec(text);
        if (frame?.[1]) {
          req.destroy();
          resolve(unpackStatusView(JSON.parse(frame[1]) as PackedStatusView));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const promtoolMissing = promtoolUnavailableReason();
if (promtoolMissing) console.warn(`skipping the promtool checks of /metrics: ${promtoolMissing}`);

describe('the admin listener on loopback', () => {
  let hub: TestHub;
  let stateDir: string;
  let port: number;

  beforeAll(async () => {
    hub = await withHub({ admin: { host: '127.0.0.1', port: 0 } });
    port = hub.hub.adminPort ?? 0;
  });
  afterAll(async () => {
    await hub.close();
  });
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'tunnel-client-test-'));
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

  it.skipIf(promtoolMissing !== null)('serves metrics promtool accepts, whose series move as a member joins and leaves', async () => {
    const before = await get(port, '/metrics');
    expect(before.status).toBe(200);
    expect(before.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(promtoolCheck(before.body)).toEqual({ status: 0, output: '' });
    expect(metricValue(before.body, 'tunnel_peers{state="up"}')).toBe(0);
    expect(metricValue(before.body, 'tunnel_pool_subnets{pool="10.1.12.0/24"}')).toBe(64);
    expect(metricValue(before.body, 'tunnel_pool_used_subnets{pool="10.1.12.0/24"}')).toBe(0);
    expect(metricValue(before.body, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    const reconfigurations = metricValue(before.body, 'tunnel_reconfigurations_total') ?? NaN;
    const acks = metricValue(before.body, 'tunnel_config_ack_latency_seconds_count') ?? NaN;

    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const running = runMember({ stateDir, datapath: new MemoryClientDatapath(), log: testLogger, join: { url: hub.wsUrl, token: await hub.invite(), name: 'alice' }, stopped });
    try {
      const registry = hub.hub.registry;
      await waitUntil(async () => await registry.peers.find('alice')
        && (await registry.specs.versions('alice', (await registry.links.hubLinkOf('alice')).id))?.peer.acked === 1, 10_000, 'the ack');
      const during = (await get(port, '/metrics')).body;
      expect(promtoolCheck(during).status).toBe(0);
      expect(metricValue(during, 'tunnel_peers{state="up"}')).toBe(1);
      expect(metricValue(during, 'tunnel_sessions{transport="ws"}')).toBe(1);
      expect(metricValue(during, 'tunnel_reconfigurations_total')).toBeGreaterThan(reconfigurations);
      expect(metricValue(during, 'tunnel_config_ack_latency_seconds_count')).toBe(acks + 1);
      expect(metricValue(during, 'tunnel_pool_used_subnets{pool="10.1.12.0/24"}')).toBe(1);
      expect(metricValue(during, 'tunnel_peer_receive_bytes_total{peer="alice",encap="gre"}')).toBe(0);
      expect(metricValue(during, 'tunnel_frontdoor_accepted_connections_total{door="ws"}')).toBeGreaterThanOrEqual(1);
    } finally {
      stop();
      await running;
    }
    await waitUntil(async () => metricValue((await get(port, '/metrics')).body, 'tunnel_peers{state="down"}') === 1, 10_000, 'alice down');
    const after = (await get(port, '/metrics')).body;
    expect(metricValue(after, 'tunnel_sessions{transport="ws"}')).toBe(0);
  });

  it('exports every series an operator watches, named by Prometheus conventions, per peer labelled peer and encap only', async () => {
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const running = runMember({ stateDir, datapath: new MemoryClientDatapath(), log: testLogger, join: { url: hub.wsUrl, token: await hub.invite(), name: 'bob' }, stopped });
    let text: string;
    try {
      await waitUntil(async () => metricValue((await get(port, '/metrics')).body, 'tunnel_peer_transmit_bytes_total{peer="bob",encap="gre"}') !== undefined, 10_000, 'bob\'s tunnel');
      text = (await get(port, '/metrics')).body;
    } finally {
      stop();
      await running;
    }
    expect(metricProblems(text, {
      ...TUNNEL_TRAFFIC_FAMILIES, tunnel_peers: 'gauge', tunnel_sessions: 'gauge', tunnel_reconfigurations_total: 'counter',
      tunnel_config_ack_latency_seconds: 'histogram', tunnel_auth_failures_total: 'counter', tunnel_pool_subnets: 'gauge', tunnel_pool_used_subnets: 'gauge',
      tunnel_peer_spoofed_packets_total: 'counter', tunnel_frontdoor_accepted_connections_total: 'counter', tunnel_frontdoor_refused_connections_total: 'counter',
      tunnel_frontdoor_timeouts_total: 'counter', tunnel_frontdoor_open_connections: 'gauge', tunnel_frontdoor_pending_connections: 'gauge',
      tunnel_frontdoor_blocked_sources: 'gauge', process_resident_memory_bytes: 'gauge', process_open_fds: 'gauge', process_cpu_seconds_total: 'counter',
      nodejs_heap_size_used_bytes: 'gauge', tunnel_encrypted_links: 'gauge', tunnel_esp_sa_age_max_seconds: 'gauge', tunnel_esp_drops_total: 'counter',
      tunnel_peer_encrypted: 'gauge', tunnel_peer_esp_sa_age_seconds: 'gauge', tunnel_peer_esp_drops_total: 'counter',
    })).toEqual([]);
    // Every per-peer family has bob's series, keyed by peer and encapsulation only; bob's link is
    // in the clear (plain ws://), so the SA age and ESP drops have none for him.
    const cleartextOnly = ['tunnel_peer_esp_sa_age_seconds', 'tunnel_peer_esp_drops_total'];
    for (const name of metricFamilies(text).keys()) {
      if (name.startsWith('tunnel_peer_')) {
        expect({ name, bob: metricValue(text, `${name}{peer="bob",encap="gre"}`) }).toEqual({ name, bob: cleartextOnly.includes(name) ? undefined : 0 });
      }
    }
    expect(text).not.toMatch(/tunnel_peer_esp_[a-z_]+\{peer="bob"/);
  });

  it('counts failed logins by door and code, and the refused upgrade changes nothing', async () => {
    const registry = await registrySnapshot(hub.stateDir);
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(hub.wsUrl, { headers: { authorization: 'Bearer not-a-token' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    expect(refused).toBe(401);
    const text = (await get(port, '/metrics')).body;
    expect(metricValue(text, 'tunnel_auth_failures_total{door="ws",code="ERR_TOKEN_INVALID"}')).toBe(1);
    expect(await registrySnapshot(hub.stateDir)).toEqual(registry);
  });

  it('streams the status to the page and serves it self-contained', async () => {
    const page = await get(port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    // Nothing from outside: no URL, no src= or href= at all.
    expect(page.body).not.toMatch(/https?:\/\/|\bsrc=|\bhref=|@import|url\(/);
    expect(page.body).toContain('<meta name="viewport"');
    const event = await firstEvent(port);
    expect(event.peers).toContainEqual(expect.objectContaining({ name: 'alice', state: 'down' }));
    const json = JSON.parse((await get(port, '/status.json')).body) as { peers: { name: string }[] };
    expect(json.peers.map((peer) => peer.name).sort()).toEqual(['alice', 'bob']);
  });

  it('serve refuses an admin port in use with one coded line naming the flag, and cleans up', async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'tunnel-hub-test-')), 'hub');
    try {
      const result = await runHubCli(stateDir, ['serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0', '--datapath', 'none', '--admin-listen', `127.0.0.1:${port}`]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n').pop()).toBe(`tunnel-hub: ERR_SYSTEM: cannot listen on 127.0.0.1:${port} for /metrics and the status page: the port is in use; choose another with --admin-listen ADDR:PORT, or --no-admin`);
      expect(existsSync(join(stateDir, 'serve.json'))).toBe(false);
    } finally {
      rmSync(dirname(stateDir), { recursive: true, force: true });
    }
  });

  it('is read-only and answers unknown paths with 404', async () => {
    const registry = await registrySnapshot(hub.stateDir);
    expect((await get(port, '/metrics', {}, 'POST')).status).toBe(405);
    expect((await get(port, '/status.json', {}, 'DELETE')).status).toBe(405);
    expect((await get(port, '/nope')).status).toBe(404);
    expect((await get(port, '/metrics', {}, 'HEAD')).status).toBe(200);
    expect(await registrySnapshot(hub.stateDir)).toEqual(registry);
  });

  it('shows a dyndns2 router as its tunnel\'s liveness says: up while answered, down when not', async () => {
    await hub.hub.registry.peers.add({ name: 'router' });
    const key = await hub.hub.registry.dyndnsKeys.issue('router');
    const routerView = async (): Promise<Record<string, unknown> | undefined> =>
      (JSON.parse((await get(port, '/status.json')).body) as { peers: Record<string, unknown>[] }).peers.find((peer) => peer.name === 'router');
    expect(await routerView()).toMatchObject({ state: 'down', router: false, transport: null });
    const reply = await dyndns2Request(hub.hub.wsPort, { query: 'hostname=router', auth: `router:${key}`, localAddress: '127.0.0.2' });
    expect(reply.body).toBe('good 127.0.0.2\n');
    // No session, ever: the state is the hub end's liveness (the memory datapath answers every keepalive).
    expect(await routerView()).toMatchObject({ state: 'up', router: true, transport: null, seen: '127.0.0.2', software: null });
    const encap = hub.datapath.tunnels.get('tnl-router')?.encap ?? '';
    hub.datapath.unanswered.add(encap);
    try {
      expect(await routerView()).toMatchObject({ state: 'down', router: true });
    } finally {
      hub.datapath.unanswered.delete(encap);
    }
  });
});

describe('the admin listener off loopback', () => {
  let hub: TestHub;
  let port: number;

  beforeAll(async () => {
    hub = await withHub({ admin: { host: '0.0.0.0', port: 0 } });
    port = hub.hub.adminPort ?? 0;
  });
  afterAll(async () => {
    await hub.close();
  });

  it('asks for the admin token, kept 0600 in the state folder, and counts wrong ones', async () => {
    const file = join(hub.stateDir, 'admin-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = loadOrCreateAdminToken(hub.stateDir);
    const registry = await registrySnapshot(hub.stateDir);

    const bare = await get(port, '/metrics');
    expect(bare.status).toBe(401);
    expect(bare.body).toContain('tunnel-hub admin-token');
    expect((await get(port, '/')).status).toBe(401);
    expect((await get(port, '/events')).status).toBe(401);
    expect((await get(port, '/metrics', { authorization: 'Bearer wrong-token' })).status).toBe(401);
    expect((await get(port, '/?token=wrong-token')).status).toBe(401);

    const good = await get(port, '/metrics', { authorization: `Bearer ${token}` });
    expect(good.status).toBe(200);
    expect(metricValue(good.body, 'tunnel_auth_failures_total{door="admin",code="ERR_UNAUTHENTICATED"}')).toBe(2);
    expect(await registrySnapshot(hub.stateDir)).toEqual(registry);
  });

  it('tunnel-hub admin-token prints the token alone, and --rotate replaces it', async () => {
    const shown = await runHubCli(hub.stateDir, ['admin-token']);
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    expect(shown.stdout).toBe(`${loadOrCreateAdminToken(hub.stateDir)}\n`);
    expect((await get(port, '/metrics', { authorization: `Bearer ${shown.stdout.trim()}` })).status).toBe(200);
    // The hub notices a rotation by the file's mtime: the rotated file must not share the old one's.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const rotated = await runHubCli(hub.stateDir, ['admin-token', '--rotate']);
    expect(rotated.stdout.trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rotated.stdout).not.toBe(shown.stdout);
    expect((await get(port, '/metrics', { authorization: `Bearer ${shown.stdout.trim()}` })).status).toBe(401);
    expect((await get(port, '/metrics', { authorization: `Bearer ${rotated.stdout.trim()}` })).status).toBe(200);
  });

  it('moves a token opened once as /?token= into a cookie, and takes a rotated token at once', async () => {
    const token = loadOrCreateAdminToken(hub.stateDir);
    const login = await get(port, `/?token=${token}`);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/');
    const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
    expect(cookie).toBe(`tunnel_admin=${token}`);
    expect(String(login.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await get(port, '/', { cookie })).status).toBe(200);
    expect((await firstEvent(port, { cookie })).peers).toEqual([]);

    // As above: a later mtime for the rotated file.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const rotated = loadOrCreateAdminToken(hub.stateDir, { rotate: true });
    expect(rotated).not.toBe(token);
    expect((await get(port, '/', { cookie })).status).toBe(401);
    expect((await get(port, '/metrics', { authorization: `Bearer ${rotated}` })).status).toBe(200);
  });
});
