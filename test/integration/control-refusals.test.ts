import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLIENT_TOKEN_TYPE, JOIN_HEADERS, MAX_MESSAGE_BYTES } from '../../shared/protocol/index.js';
import { parseSshPublicKey } from '../../server/auth/ssh-public-key.js';
import { signClientToken } from '../../client/identity-token.js';
import { loadOrCreateIdentity } from '../../client/identity.js';
import { connectSsh, connectWs, isRefusal, type ProtocolClient } from '../helpers/protocol-client.js';
import { waitUntil } from '../helpers/wait-until.js';
import { withHub, type TestHub } from '../helpers/with-hub.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';

const hello = JSON.stringify({ v: 1, type: 'hello', software: 'test', endpoint: '127.0.0.1' });

describe('refusals change nothing and close only the offending session', () => {
  let hub: TestHub;
  let keyDir: string;
  const memberKey = () => loadOrCreateIdentity(keyDir);

  beforeAll(async () => {
    // Dozens of refusals and hundreds of connections come from 127.0.0.1 here, each checked for
    // what the session does; per-source rates and the wait after failed logins are
    // front-door-limits.test.ts's subject.
    const patient = { freeFailures: 1_000, connectRate: 1_000, connectBurst: 1_000 };
    // The hub reads the clock through Date at every call, so a test's fake Date reaches its token checks.
    hub = await withHub({ timing: { keepaliveMs: 200, livenessMs: 5_000 }, doors: { ws: patient, ssh: patient }, clock: () => Date.now() });
    keyDir = mkdtempSync(join(tmpdir(), 'tunnel-key-'));
    // A known peer with a registered ed25519 key, for client-token and SSH cases.
    await hub.hub.registry.peers.add({ name: 'carol', sshKey: parseSshPublicKey(memberKey().publicKeyLine) });
  });
  afterAll(async () => {
    await hub.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** Runs `attempt` and checks it was refused with `code` and the registry did not change. */
  async function refusedUnchanged(code: string, attempt: () => Promise<string | undefined>): Promise<void> {
    const before = await hub.hub.registry.exportTables();
    expect(await attempt()).toBe(code);
    expect(await hub.hub.registry.exportTables()).toEqual(before);
  }

  async function upgrade(headers: Record<string, string>): Promise<string | undefined> {
    const result = await connectWs(hub.wsUrl, headers);
    if (!isRefusal(result)) {
      result.close();
      return 'accepted';
    }
    expect(result.status).toBeGreaterThanOrEqual(400);
    expect(JSON.parse(result.body).code).toBe(result.code);
    return result.code;
  }

  const joinHeaders = (token: string, name = `n${randomUUID().slice(0, 8)}`) => ({
    authorization: `Bearer ${token}`, [JOIN_HEADERS.name]: name, [JOIN_HEADERS.key]: generateEd25519KeyPair('test').public,
  });

  it('refuses a missing or malformed Authorization header', async () => {
    await refusedUnchanged('ERR_UNAUTHENTICATED', () => upgrade({}));
    await refusedUnchanged('ERR_UNAUTHENTICATED', () => upgrade({ authorization: 'Basic abc' }));
    await refusedUnchanged('ERR_TOKEN_INVALID', () => upgrade({ authorization: 'Bearer not.a.jwt' }));
  });

  it('refuses a forged invite (signed by another key) and a tampered one', async () => {
    const { privateKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('ed25519'));
    const forged = await new SignJWT({ typ: 'invite' }).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
      .setIssuer('tunnel-hub').setAudience('tunnel-hub').setJti(randomUUID()).setIssuedAt().setExpirationTime('1h').sign(privateKey);
    await refusedUnchanged('ERR_TOKEN_INVALID', () => upgrade(joinHeaders(forged)));
    const real = await hub.invite();
    const [h, p, s] = real.split('.');
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, pool: '10.0.0.0/8' })).toString('base64url')}.${s}`;
    await refusedUnchanged('ERR_TOKEN_INVALID', () => upgrade(joinHeaders(tampered)));
  });

  it('refuses an expired invite', async () => {
    const token = await hub.invite({ ttlMs: 1_000 });
    // Two seconds later by the clock (Date only: the hub's and the sockets' timers stay real).
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() + 2_000);
      await refusedUnchanged('ERR_TOKEN_EXPIRED', () => upgrade(joinHeaders(token)));
    } finally {
      vi.useRealTimers();
    }
  });

  it('redeems an invite once: the second use is refused', async () => {
    const token = await hub.invite();
    expect(await upgrade(joinHeaders(token, 'dave'))).toBe('accepted');
    await refusedUnchanged('ERR_TOKEN_USED', () => upgrade(joinHeaders(token, 'erin')));
    await refusedUnchanged('ERR_TOKEN_USED', () => upgrade(joinHeaders(token, 'dave')));
  });

  it('refuses an invite join with a taken name, a bad name or a non-ed25519 key, keeping the invite', async () => {
    const token = await hub.invite();
    await refusedUnchanged('ERR_PEER_EXISTS', () => upgrade(joinHeaders(token, 'carol')));
    await refusedUnchanged('ERR_INVALID_ARGUMENT', () => upgrade(joinHeaders(token, 'Bad Name')));
    const rsa = ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }).public;
    await refusedUnchanged('ERR_SSH_KEY_INVALID', () => upgrade({ ...joinHeaders(token), [JOIN_HEADERS.key]: rsa }));
    await refusedUnchanged('ERR_SSH_KEY_INVALID', () => upgrade({ ...joinHeaders(token), [JOIN_HEADERS.key]: 'ssh-ed25519 AAAAnope' }));
    expect(await upgrade(joinHeaders(token, 'frank'))).toBe('accepted');
  });

  it('refuses a revoked peer token and one of a removed peer', async () => {
    await hub.hub.registry.peers.add({ name: 'gina' });
    const token = await hub.peerToken('gina');
    await hub.hub.registry.peers.revoke('gina');
    await refusedUnchanged('ERR_TOKEN_REVOKED', () => upgrade({ authorization: `Bearer ${token}` }));
    const fresh = await hub.peerToken('gina');
    await hub.hub.registry.peers.remove('gina');
    await refusedUnchanged('ERR_TOKEN_REVOKED', () => upgrade({ authorization: `Bearer ${fresh}` }));
  });

  it('refuses a peer token it accepted before, once the peer is revoked or removed', async () => {
    await hub.hub.registry.peers.add({ name: 'hana' });
    const token = await hub.peerToken('hana');
    // Accepted twice: the second connect is the reconnect whose signature check the hub remembers.
    expect(await upgrade({ authorization: `Bearer ${token}` })).toBe('accepted');
    expect(await upgrade({ authorization: `Bearer ${token}` })).toBe('accepted');
    await hub.hub.registry.peers.revoke('hana');
    await refusedUnchanged('ERR_TOKEN_REVOKED', () => upgrade({ authorization: `Bearer ${token}` }));
    await hub.hub.registry.peers.restore('hana');
    const fresh = await hub.peerToken('hana');
    expect(await upgrade({ authorization: `Bearer ${fresh}` })).toBe('accepted');
    await hub.hub.registry.peers.remove('hana');
    await refusedUnchanged('ERR_TOKEN_REVOKED', () => upgrade({ authorization: `Bearer ${fresh}` }));
  });

  it('refuses client tokens: unknown key, wrong audience, too long a life, replayed', async () => {
    const stranger = loadOrCreateIdentity(mkdtempSync(join(keyDir, 'stranger-')));
    await refusedUnchanged('ERR_SSH_KEY_UNKNOWN', async () => upgrade({ authorization: `Bearer ${await signClientToken(stranger, 'carol', hub.hub.hubId)}` }));
    await refusedUnchanged('ERR_TOKEN_INVALID', async () => upgrade({ authorization: `Bearer ${await signClientToken(memberKey(), 'carol', 'SHA256:another-hub')}` }));
    await refusedUnchanged('ERR_TOKEN_INVALID', async () => upgrade({ authorization: `Bearer ${await signClientToken(memberKey(), 'mallory', hub.hub.hubId)}` }));
    const longLived = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA', typ: CLIENT_TOKEN_TYPE, kid: memberKey().fingerprint })
      .setIssuer('carol').setSubject('carol').setAudience(hub.hub.hubId).setJti(randomUUID()).setIssuedAt().setExpirationTime('1h')
      .sign(memberKey().signingKey!);
    await refusedUnchanged('ERR_TOKEN_INVALID', () => upgrade({ authorization: `Bearer ${longLived}` }));
    const once = await signClientToken(memberKey(), 'carol', hub.hub.hubId);
    expect(await upgrade({ authorization: `Bearer ${once}` })).toBe('accepted');
    await refusedUnchanged('ERR_TOKEN_USED', () => upgrade({ authorization: `Bearer ${once}` }));
  });

  it('refuses an unknown SSH key and a wrong user name, and an exec other than the protocol', async () => {
    const stranger = generateEd25519KeyPair('test').private;
    const before = await hub.hub.registry.exportTables();
    await expect(connectSsh(hub.hub.sshPort, 'carol', stranger)).rejects.toThrow(/authentication/i);
    await expect(connectSsh(hub.hub.sshPort, 'nobody', memberKey().privateKeyText)).rejects.toThrow(/authentication/i);
    const shell = await connectSsh(hub.hub.sshPort, 'carol', memberKey().privateKeyText, 'rm -rf /');
    expect((await shell.closed).code).toBe(2);
    expect(shell.stderr()).toMatch(/ERR_INVALID_ARGUMENT: unknown command/);
    expect(await hub.hub.registry.exportTables()).toEqual(before);
  });

  describe('protocol violations after authentication', () => {
    async function session(): Promise<ProtocolClient> {
      const result = await connectWs(hub.wsUrl, { authorization: `Bearer ${await signClientToken(memberKey(), 'carol', hub.hub.hubId)}` });
      if (isRefusal(result)) throw new Error(`refused: ${result.code}`);
      return result;
    }

    const cases: [string, string | Buffer, string, number][] = [
      ['malformed JSON', '{"v":1,"type":', 'ERR_PROTOCOL', 4400],
      ['wrong protocol version', JSON.stringify({ v: 2, type: 'hello', software: 'x', endpoint: null }), 'ERR_UNSUPPORTED_VERSION', 4400],
      ['report before hello', JSON.stringify({ v: 1, type: 'report', endpoint: { address: '192.0.2.7' } }), 'ERR_PROTOCOL', 4400],
      // Byte for byte the keepalive the hub skips parsing once a session is established: not before.
      ['keepalive before hello', JSON.stringify({ v: 1, type: 'keepalive' }), 'ERR_PROTOCOL', 4400],
      ['a hub-only message', JSON.stringify({ v: 1, type: 'config', version: 1, tunnels: [], links: [] }), 'ERR_PROTOCOL', 4400],
      ['oversized message', Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20), 'ERR_MESSAGE_TOO_LARGE', 1009],
    ];
    for (const [what, raw, code, closeCode] of cases) {
      it(`closes the session on ${what} with ${code}, registry unchanged`, async () => {
        const client = await session();
        const before = await hub.hub.registry.exportTables();
        client.send(raw);
        const closed = await client.closed;
        expect(closed.code).toBe(closeCode);
        if (closeCode !== 1009) expect((await client.next('error')).code).toBe(code);
        expect(await hub.hub.registry.exportTables()).toEqual(before);
      });
    }

    it('closes the session on an ack of a version never sent', async () => {
      const client = await session();
      client.send(hello);
      const config = await client.next('config');
      client.send(JSON.stringify({ v: 1, type: 'ack', version: (config.version as number) + 5 }));
      expect((await client.closed).code).toBe(4400);
      expect((await client.next('error')).code).toBe('ERR_PROTOCOL');
    });
  });

  it('a flood of malformed messages on one session leaves a second, healthy one running', async () => {
    await hub.hub.registry.peers.add({ name: 'henry' });
    const healthy = await connectWs(hub.wsUrl, { authorization: `Bearer ${await hub.peerToken('henry')}` });
    if (isRefusal(healthy)) throw new Error('healthy session refused');
    healthy.send(JSON.stringify({ v: 1, type: 'hello', software: 'test', endpoint: '127.0.0.1' }));
    const config = await healthy.next('config');
    healthy.send(JSON.stringify({ v: 1, type: 'ack', version: config.version }));
    // A live member speaks at least once a keepalive interval (tunnel-client answers each of the
    // hub's), so a slow attack on a loaded machine cannot outlast its liveness timeout.
    const beat = setInterval(() => healthy.send(JSON.stringify({ v: 1, type: 'keepalive' })), 200);

    // 200 attacking sessions (20 peers in parallel, 10 each in turn), each killed by its first
    // garbage message, with more junk sent after it.
    for (let n = 0; n < 20; n++) await hub.hub.registry.peers.add({ name: `attacker-${n}` });
    const attackers = await Promise.all(Array.from({ length: 20 }, async (_, n) => {
      const token = await hub.peerToken(`attacker-${n}`);
      const results: number[] = [];
      for (let i = 0; i < 10; i++) {
        const bad = await connectWs(hub.wsUrl, { authorization: `Bearer ${token}` });
        if (isRefusal(bad)) throw new Error(`attacker refused: ${bad.code}`);
        for (let j = 0; j < 20; j++) bad.send(j % 2 ? '\u0000garbage' : '{"v":1,"type":"ack","version":99}');
        results.push((await bad.closed).code);
      }
      return results;
    }));
    clearInterval(beat);
    expect(attackers.flat().every((code) => code === 4400)).toBe(true);

    // The healthy session saw keepalives throughout and can still report and get a new config.
    const keepalivesBefore = healthy.received.filter((m) => m.type === 'keepalive').length;
    await waitUntil(() => healthy.received.filter((m) => m.type === 'keepalive').length > keepalivesBefore, 5_000, 'keepalive');
    healthy.send(JSON.stringify({ v: 1, type: 'report', endpoint: { address: '192.0.2.77' } }));
    const next = await healthy.next('config');
    expect(next.version).toBe((config.version as number) + 1);
    expect((next.tunnels as { local: string }[])[0]?.local).toBe('192.0.2.77');
    // The hub never aims at the reported address: its end still points at the seen one.
    expect(hub.datapath.tunnels.get('tnl-henry')?.remote).toBe('127.0.0.1');
    expect(hub.hub.plane.liveState().get('henry')?.connected).toBe(true);
    healthy.close();
  });
});
