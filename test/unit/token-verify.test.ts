import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT } from 'jose';
import { issueInviteToken, issuePeerToken } from '../../server/auth/issue-token.js';
import type { PeerTokenClaims } from '../../server/auth/token-claims.js';
import { VerifiedTokenCache } from '../../server/auth/verified-token-cache.js';
import { verifyInviteToken, verifyPeerToken } from '../../server/auth/verify-token.js';
import { rejectionOf } from '../helpers/error-code.js';
import { expectRefusedUnchanged, fakeClock, memoryRegistry } from '../helpers/registry-fixture.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 0, 1);
const hub = generateKeyPairSync('ed25519');
const otherHub = generateKeyPairSync('ed25519');

describe('invite tokens', () => {
  it('verify with their jti, expiry and pool', async () => {
    const invite = await issueInviteToken(hub.privateKey, { now: NOW, ttlMs: 24 * HOUR, pool: '10.1.13.0/24' });
    expect(await verifyInviteToken(invite.token, hub.publicKey, { now: NOW + HOUR })).toEqual({
      jti: invite.jti, expiresAt: NOW + 24 * HOUR, pool: '10.1.13.0/24',
    });
  });

  it('expire at their expiry, not before', async () => {
    const invite = await issueInviteToken(hub.privateKey, { now: NOW, ttlMs: HOUR });
    await expect(verifyInviteToken(invite.token, hub.publicKey, { now: NOW + HOUR - 1000 })).resolves.toMatchObject({ pool: null });
    expect((await rejectionOf(verifyInviteToken(invite.token, hub.publicKey, { now: NOW + HOUR }))).code).toBe('ERR_TOKEN_EXPIRED');
  });

  it('live at least their ttl when issued partway through a second (the expiry rounds up)', async () => {
    const issued = NOW + 999;
    const invite = await issueInviteToken(hub.privateKey, { now: issued, ttlMs: 1000 });
    expect(invite.expiresAt).toBeGreaterThanOrEqual(issued + 1000);
    await expect(verifyInviteToken(invite.token, hub.publicKey, { now: issued + 999 })).resolves.toMatchObject({ jti: invite.jti });
  });

  it('are refused when signed by another key, altered, or not EdDSA', async () => {
    const forged = await issueInviteToken(otherHub.privateKey, { now: NOW, ttlMs: HOUR });
    expect(await rejectionOf(verifyInviteToken(forged.token, hub.publicKey, { now: NOW }))).toMatchObject({ code: 'ERR_TOKEN_INVALID', message: expect.stringMatching(/signature/) });

    const genuine = await issueInviteToken(hub.privateKey, { now: NOW, ttlMs: HOUR });
    const [header, , signature] = genuine.token.split('.');
    const body = Buffer.from(JSON.stringify({ typ: 'invite', jti: 'mine', iss: 'tunnel-hub', aud: 'tunnel-hub', iat: NOW / 1000, exp: NOW / 1000 + 99999 })).toString('base64url');
    expect((await rejectionOf(verifyInviteToken(`${header}.${body}.${signature}`, hub.publicKey, { now: NOW }))).code).toBe('ERR_TOKEN_INVALID');

    const unsigned = new UnsecuredJWT({ typ: 'invite' }).setIssuer('tunnel-hub').setAudience('tunnel-hub').setJti('x').setIssuedAt().setExpirationTime('1h').encode();
    expect((await rejectionOf(verifyInviteToken(unsigned, hub.publicKey))).code).toBe('ERR_TOKEN_INVALID');

    const hmac = await new SignJWT({ typ: 'invite' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('tunnel-hub').setAudience('tunnel-hub').setJti('x').setIssuedAt().setExpirationTime('1h').sign(new Uint8Array(32));
    expect(await rejectionOf(verifyInviteToken(hmac, hub.publicKey))).toMatchObject({ code: 'ERR_TOKEN_INVALID', message: expect.stringMatching(/EdDSA/) });

    expect((await rejectionOf(verifyInviteToken('not.a.token', hub.publicKey))).code).toBe('ERR_TOKEN_INVALID');
    expect((await rejectionOf(verifyInviteToken('', hub.publicKey))).code).toBe('ERR_TOKEN_INVALID');
  });

  it('are refused with the wrong issuer, audience or type', async () => {
    const sign = (claims: Record<string, unknown>, iss = 'tunnel-hub', aud = 'tunnel-hub') =>
      new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).setIssuer(iss).setAudience(aud).setJti('j').setIssuedAt(NOW / 1000).setExpirationTime(NOW / 1000 + 3600).sign(hub.privateKey);
    expect((await rejectionOf(verifyInviteToken(await sign({ typ: 'invite' }, 'someone-else'), hub.publicKey, { now: NOW }))).message).toMatch(/iss/);
    expect((await rejectionOf(verifyInviteToken(await sign({ typ: 'invite' }, 'tunnel-hub', 'other'), hub.publicKey, { now: NOW }))).message).toMatch(/aud/);
    expect((await rejectionOf(verifyInviteToken(await sign({ typ: 'peer', ver: 1 }), hub.publicKey, { now: NOW }))).message).toMatch(/expected an invite, got a "peer" token/);
    const peerToken = await issuePeerToken(hub.privateKey, { name: 'alice', version: 1, now: NOW, ttlMs: HOUR });
    expect((await rejectionOf(verifyInviteToken(peerToken, hub.publicKey, { now: NOW }))).code).toBe('ERR_TOKEN_INVALID');
  });

  it('are single use through the registry, atomically with the join', async () => {
    const clock = fakeClock(NOW);
    const registry = await memoryRegistry({ pools: ['10.1.12.0/24'], clock });
    const invite = await issueInviteToken(hub.privateKey, { now: clock(), ttlMs: HOUR });
    await registry.invites.create({ jti: invite.jti, expiresAt: invite.expiresAt, uses: 1 });
    const claims = await verifyInviteToken(invite.token, hub.publicKey, { now: clock() });
    await registry.peers.add({ name: 'alice', inviteJti: claims.jti });
    await expectRefusedUnchanged(registry, 'ERR_TOKEN_USED', () => registry.peers.add({ name: 'bob', inviteJti: claims.jti }));
    await expectRefusedUnchanged(registry, 'ERR_TOKEN_USED', () => registry.invites.redeem(claims.jti));
  });
});

describe('peer tokens', () => {
  it('verify while the version matches and are revoked by peer revoke', async () => {
    const clock = fakeClock(NOW);
    const registry = await memoryRegistry({ pools: ['10.1.12.0/24'], clock });
    const { peer } = await registry.peers.add({ name: 'alice' });
    const token = await issuePeerToken(hub.privateKey, { name: 'alice', version: peer.tokenVersion, now: clock(), ttlMs: HOUR });
    const currentVersion = async (name: string) => (await registry.peers.find(name))?.tokenVersion;
    expect(await verifyPeerToken(token, hub.publicKey, { now: clock(), currentVersion })).toEqual({
      name: 'alice', version: peer.tokenVersion, expiresAt: NOW + HOUR,
    });
    await registry.peers.revoke('alice');
    expect((await rejectionOf(verifyPeerToken(token, hub.publicKey, { now: clock(), currentVersion }))).code).toBe('ERR_TOKEN_REVOKED');
    const fresh = await issuePeerToken(hub.privateKey, { name: 'alice', version: (await registry.peers.require('alice')).tokenVersion, now: clock(), ttlMs: HOUR });
    await expect(verifyPeerToken(fresh, hub.publicKey, { now: clock(), currentVersion })).resolves.toMatchObject({ name: 'alice' });
    await registry.peers.remove('alice');
    expect((await rejectionOf(verifyPeerToken(fresh, hub.publicKey, { now: clock(), currentVersion }))).code).toBe('ERR_TOKEN_REVOKED');
  });

  it('expire, and are refused as invites or when forged', async () => {
    const token = await issuePeerToken(hub.privateKey, { name: 'alice', version: 3, now: NOW, ttlMs: HOUR });
    const currentVersion = () => 3;
    expect((await rejectionOf(verifyPeerToken(token, hub.publicKey, { now: NOW + HOUR, currentVersion }))).code).toBe('ERR_TOKEN_EXPIRED');
    const invite = await issueInviteToken(hub.privateKey, { now: NOW, ttlMs: HOUR });
    expect((await rejectionOf(verifyPeerToken(invite.token, hub.publicKey, { now: NOW, currentVersion }))).code).toBe('ERR_TOKEN_INVALID');
    const forged = await issuePeerToken(otherHub.privateKey, { name: 'alice', version: 3, now: NOW, ttlMs: HOUR });
    expect((await rejectionOf(verifyPeerToken(forged, hub.publicKey, { now: NOW, currentVersion }))).code).toBe('ERR_TOKEN_INVALID');
  });

  it('with a cache, skip the signature check of a token seen before, but never the version check', async () => {
    const clock = fakeClock(NOW);
    const registry = await memoryRegistry({ pools: ['10.1.12.0/24'], clock });
    const { peer } = await registry.peers.add({ name: 'alice' });
    const token = await issuePeerToken(hub.privateKey, { name: 'alice', version: peer.tokenVersion, now: clock(), ttlMs: HOUR });
    let asked = 0;
    const currentVersion = async (name: string) => {
      asked += 1;
      return (await registry.peers.find(name))?.tokenVersion;
    };
    const verified = new VerifiedTokenCache<PeerTokenClaims>();
    const first = await verifyPeerToken(token, hub.publicKey, { now: clock(), currentVersion, verified });
    // Checked against another hub's key, the signature would fail: only the cache can accept it.
    expect(await verifyPeerToken(token, otherHub.publicKey, { now: clock(), currentVersion, verified })).toEqual(first);
    expect(asked).toBe(2);
    // Another token, even a forged one for the same peer, is checked in full.
    const forged = await issuePeerToken(otherHub.privateKey, { name: 'alice', version: peer.tokenVersion, now: clock(), ttlMs: HOUR });
    expect((await rejectionOf(verifyPeerToken(forged, hub.publicKey, { now: clock(), currentVersion, verified }))).code).toBe('ERR_TOKEN_INVALID');
    // Revocation and removal refuse the remembered token at once.
    await registry.peers.revoke('alice');
    expect((await rejectionOf(verifyPeerToken(token, hub.publicKey, { now: clock(), currentVersion, verified }))).code).toBe('ERR_TOKEN_REVOKED');
    await registry.peers.restore('alice');
    const fresh = await issuePeerToken(hub.privateKey, { name: 'alice', version: (await registry.peers.require('alice')).tokenVersion, now: clock(), ttlMs: HOUR });
    await expect(verifyPeerToken(fresh, hub.publicKey, { now: clock(), currentVersion, verified })).resolves.toMatchObject({ name: 'alice' });
    await registry.peers.remove('alice');
    expect(await rejectionOf(verifyPeerToken(fresh, hub.publicKey, { now: clock(), currentVersion, verified }))).toMatchObject({
      code: 'ERR_TOKEN_REVOKED', message: expect.stringMatching(/no longer exists/),
    });
  });

  it('with a cache, still expire at their expiry', async () => {
    const token = await issuePeerToken(hub.privateKey, { name: 'alice', version: 3, now: NOW, ttlMs: HOUR });
    const verified = new VerifiedTokenCache<PeerTokenClaims>();
    await expect(verifyPeerToken(token, hub.publicKey, { now: NOW, currentVersion: () => 3, verified })).resolves.toMatchObject({ name: 'alice' });
    await expect(verifyPeerToken(token, hub.publicKey, { now: NOW + HOUR - 1, currentVersion: () => 3, verified })).resolves.toMatchObject({ name: 'alice' });
    expect((await rejectionOf(verifyPeerToken(token, hub.publicKey, { now: NOW + HOUR, currentVersion: () => 3, verified }))).code).toBe('ERR_TOKEN_EXPIRED');
    expect(verified.size).toBe(0);
  });
});
