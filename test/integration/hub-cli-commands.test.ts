import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueInviteToken } from '../../server/auth/issue-token.js';
import { loadHubSigningKey } from '../../server/auth/hub-signing-key.js';
import { verifyInviteToken, verifyPeerToken } from '../../server/auth/verify-token.js';
import { hubStatePaths } from '../../server/hub-state/hub-state-paths.js';
import { Registry } from '../../server/registry/registry.js';
import { rejectionOf } from '../helpers/error-code.js';
import { registrySnapshot, runHubCli, tempStateDir, type CliResult } from '../helpers/hub-cli.js';

const ENDPOINT = '198.51.100.1';
let state: { dir: string; cleanup: () => Promise<void> };
const cli = (...args: string[]) => runHubCli(state.dir, args);

/** Expects a clean success and returns stdout. */
async function ok(...args: string[]): Promise<string> {
  const result = await cli(...args);
  expect(result, `tunnel-hub ${args.join(' ')}`).toMatchObject({ code: 0, stderr: '' });
  return result.stdout;
}

/** Expects one coded error line, no stack trace, and an unchanged registry. */
async function refused(code: string, ...args: string[]): Promise<string> {
  const before = await registrySnapshot(state.dir);
  const result = await cli(...args);
  expectOneErrorLine(result, code);
  expect(await registrySnapshot(state.dir)).toEqual(before);
  return result.stderr;
}

function expectOneErrorLine(result: CliResult, code: string): void {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(new RegExp(`^tunnel-hub: ${code}: [^\\n]+\\n$`));
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

function sshKeygen(dir: string, name: string, ...args: string[]): { privateFile: string; publicFile: string; line: string; fingerprint: string } {
  const privateFile = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-C', `${name}@test`, '-f', privateFile, ...args]);
  const publicFile = `${privateFile}.pub`;
  const fingerprint = execFileSync('ssh-keygen', ['-lf', publicFile]).toString().split(' ')[1] ?? '';
  return { privateFile, publicFile, line: readFileSync(publicFile, 'utf8').trim(), fingerprint };
}

beforeAll(async () => {
  state = await tempStateDir();
});

afterAll(async () => {
  await state.cleanup();
});

describe('before init', () => {
  it('every command refuses with ERR_NOT_INITIALIZED and creates nothing', async () => {
    for (const args of [['pool', 'list'], ['peer', 'add', 'alice'], ['invite', 'create'], ['link', 'list']]) {
      expectOneErrorLine(await cli(...args), 'ERR_NOT_INITIALIZED');
    }
    expect(existsSync(state.dir)).toBe(false);
  });

  it('init refuses a bad endpoint or pool before creating anything', async () => {
    expectOneErrorLine(await cli('init', '--endpoint', 'hub.example'), 'ERR_INVALID_ADDRESS');
    const result = await cli('init', '--endpoint', ENDPOINT, '--pool', '10.1.12.1/24');
    expectOneErrorLine(result, 'ERR_INVALID_CIDR');
    expect(result.stderr).toMatch(/did you mean 10\.1\.12\.0\/24\?/);
    expect(existsSync(state.dir)).toBe(false);
  });

  it('init without --endpoint is a usage error', async () => {
    const result = await cli('init');
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('init', () => {
  it('creates the state folder 0700 with key and registry 0600', async () => {
    expect(await ok('init', '--endpoint', ENDPOINT, '--pool', '10.1.12.0/24')).toMatch(/created the signing key/);
    const paths = hubStatePaths(state.dir);
    expect(statSync(state.dir).mode & 0o777).toBe(0o700);
    expect(statSync(paths.signingKey).mode & 0o777).toBe(0o600);
    expect(statSync(paths.database).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(state.dir)).isDirectory()).toBe(true);
    for (const extra of ['-wal', '-shm']) {
      if (existsSync(paths.database + extra)) expect(statSync(paths.database + extra).mode & 0o777).toBe(0o600);
    }
  });

  it('is idempotent: the same init again changes nothing and keeps the key', async () => {
    const key = readFileSync(hubStatePaths(state.dir).signingKey, 'utf8');
    const before = await registrySnapshot(state.dir);
    expect(await ok('init', '--endpoint', ENDPOINT, '--pool', '10.1.12.0/24')).toMatch(/kept the existing signing key/);
    expect(await registrySnapshot(state.dir)).toEqual(before);
    expect(readFileSync(hubStatePaths(state.dir).signingKey, 'utf8')).toBe(key);
  });

  it('refuses an overlapping first pool, changing nothing', async () => {
    await refused('ERR_POOL_OVERLAP', 'init', '--endpoint', '198.51.100.2', '--pool', '10.1.0.0/16');
  });
});

describe('pool', () => {
  it('adds, lists and removes pools', async () => {
    expect(await ok('pool', 'add', '10.1.13.0/30')).toMatch(/added pool 10\.1\.13\.0\/30 \(1 link \/30s\)/);
    expect(JSON.parse(await ok('pool', 'list', '--json'))).toEqual([
      expect.objectContaining({ cidr: '10.1.12.0/24', subnets: 64, used: 0, free: 64 }),
      expect.objectContaining({ cidr: '10.1.13.0/30', subnets: 1, used: 0, free: 1 }),
    ]);
    expect(await ok('pool', 'list')).toMatch(/^POOL\s+LINK \/30s\s+USED\s+FREE\n10\.1\.12\.0\/24\s+64\s+0\s+64\n/);
    await ok('pool', 'remove', '10.1.13.0/30');
    expect(JSON.parse(await ok('pool', 'list', '--json'))).toHaveLength(1);
  });

  it('refuses bad, overlapping, duplicate, too small and unknown pools, changing nothing', async () => {
    expect(await refused('ERR_INVALID_CIDR', 'pool', 'add', '10.1.12.1/24')).toMatch(/did you mean 10\.1\.12\.0\/24\?/);
    await refused('ERR_INVALID_CIDR', 'pool', 'add', 'ten.one/8');
    await refused('ERR_POOL_OVERLAP', 'pool', 'add', '10.1.12.128/25');
    await refused('ERR_POOL_EXISTS', 'pool', 'add', '10.1.12.0/24');
    await refused('ERR_POOL_TOO_SMALL', 'pool', 'add', '10.1.14.0/31');
    await refused('ERR_POOL_NOT_FOUND', 'pool', 'remove', '10.9.0.0/16');
  });
});

describe('peer', () => {
  let keys: string;
  beforeAll(async () => {
    keys = join(dirname(state.dir), 'keys');
    execFileSync('mkdir', ['-p', keys]);
  });

  it('adds a peer with an SSH key line; the fingerprint is the one ssh-keygen prints', async () => {
    const key = sshKeygen(keys, 'alice', '-t', 'ed25519');
    expect(await ok('peer', 'add', 'alice', '--ssh-key', key.line)).toMatch(/^added peer alice: hub link 10\.1\.12\.0\/30 \(hub 10\.1\.12\.1, alice 10\.1\.12\.2\)\nssh key SHA256:/);
    const shown = JSON.parse(await ok('peer', 'show', 'alice', '--json'));
    expect(shown.sshKeys).toEqual([expect.objectContaining({ algorithm: 'ssh-ed25519', fingerprint: key.fingerprint, comment: 'alice@test' })]);
    expect(shown.sshKeys[0].publicKey).toBe(key.line.replace(/ alice@test$/, ''));
  });

  it('adds peers with ecdsa and rsa key files', async () => {
    const ecdsa = sshKeygen(keys, 'bob', '-t', 'ecdsa', '-b', '384');
    await ok('peer', 'add', 'bob', '--ssh-key-file', ecdsa.publicFile);
    const rsa = sshKeygen(keys, 'carol', '-t', 'rsa', '-b', '2048');
    await ok('peer', 'add', 'carol', '--ssh-key-file', rsa.publicFile);
    const list = JSON.parse(await ok('peer', 'list', '--json'));
    expect(list.map((p: { name: string; prefix: string; inner: string; sshKeys: number }) => [p.name, p.prefix, p.inner, p.sshKeys])).toEqual([
      ['alice', '10.1.12.0/30', '10.1.12.2', 1],
      ['bob', '10.1.12.4/30', '10.1.12.6', 1],
      ['carol', '10.1.12.8/30', '10.1.12.10', 1],
    ]);
    expect(JSON.parse(await ok('peer', 'show', 'carol', '--json')).sshKeys[0].fingerprint).toBe(rsa.fingerprint);
    expect(await ok('peer', 'list')).toMatch(/^NAME\s+STATE\s+HUB LINK\s+ADDRESS\s+PUBLIC\s+SSH KEYS\s+LINKS\nalice\s+down\s+10\.1\.12\.0\/30\s+10\.1\.12\.2\s+-\s+1\s+1\n/);
    expect(await ok('peer', 'show', 'bob')).toMatch(/ssh keys\s*\n\s+SHA256:\S+ ecdsa-sha2-nistp384 bob@test/);
  });

  it('refuses malformed, weak, private, duplicate and unreadable SSH keys, changing nothing', async () => {
    await refused('ERR_SSH_KEY_INVALID', 'peer', 'add', 'dave', '--ssh-key', 'ssh-ed25519 AAAAnot-a-key');
    await refused('ERR_SSH_KEY_INVALID', 'peer', 'add', 'dave', '--ssh-key', 'hello world');
    const weak = sshKeygen(keys, 'weak', '-t', 'rsa', '-b', '1024');
    expect(await refused('ERR_SSH_KEY_INVALID', 'peer', 'add', 'dave', '--ssh-key-file', weak.publicFile)).toMatch(/at least 2048 bits; this one has 1024/);
    expect(await refused('ERR_SSH_KEY_INVALID', 'peer', 'add', 'dave', '--ssh-key-file', weak.privateFile)).toMatch(/private key/);
    const two = join(keys, 'two.pub');
    writeFileSync(two, `${readFileSync(join(keys, 'alice.pub'), 'utf8')}${readFileSync(join(keys, 'bob.pub'), 'utf8')}`);
    expect(await refused('ERR_SSH_KEY_INVALID', 'peer', 'add', 'dave', '--ssh-key-file', two)).toMatch(/exactly one public key line/);
    expect(await refused('ERR_SSH_KEY_IN_USE', 'peer', 'add', 'dave', '--ssh-key-file', join(keys, 'alice.pub'))).toMatch(/peer "alice"/);
    await refused('ERR_INVALID_ARGUMENT', 'peer', 'add', 'dave', '--ssh-key-file', join(keys, 'missing.pub'));
    await refused('ERR_INVALID_ARGUMENT', 'peer', 'add', 'dave', '--ssh-key', 'x', '--ssh-key-file', join(keys, 'alice.pub'));
  });

  it('refuses duplicate, reserved, invalid and unknown peers, changing nothing', async () => {
    await refused('ERR_PEER_EXISTS', 'peer', 'add', 'alice');
    await refused('ERR_INVALID_ARGUMENT', 'peer', 'add', 'hub');
    await refused('ERR_INVALID_ARGUMENT', 'peer', 'add', 'Not_A_Name');
    for (const verb of ['show', 'remove', 'revoke', 'table']) await refused('ERR_PEER_NOT_FOUND', 'peer', verb, 'nobody');
  });

  it('prints the hub link table as community meshes exchange it, and as JSON', async () => {
    const table = JSON.parse(await ok('peer', 'table', 'alice', '--json'));
    expect(table).toEqual({
      prefix: '10.1.12.0/30', encap: 'gre', key: expect.any(Number), mtu: 1472,
      ends: [
        { name: 'hub', public: ENDPOINT, inner: '10.1.12.1' },
        { name: 'alice', public: null, inner: '10.1.12.2' },
      ],
    });
    const text = await ok('peer', 'table', 'alice');
    expect(text).toMatch(/^\s+My end\s+The other end\n/);
    expect(text).toMatch(/\nPublic IP address\s+198\.51\.100\.1\s+\(not known yet\)\n/);
    expect(text).toMatch(/\nAddress on the \/30\s+10\.1\.12\.1\s+10\.1\.12\.2\n/);
    expect(text).toMatch(/\nInterface name\s+tnl-alice\s+tnl-hub\n/);
    expect(text).toMatch(new RegExp(`Link 10\\.1\\.12\\.0/30: gre, key ${table.key}, mtu 1472\\n$`));
  });

  it('prints a peer token alone on stdout that verifies until the peer is revoked', async () => {
    const result = await cli('peer', 'add', 'erin', '--token', '--token-expires', '1h');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(result.stderr).toMatch(/^added peer erin: /);
    const key = loadHubSigningKey(hubStatePaths(state.dir).signingKey);
    const registry = await Registry.open(hubStatePaths(state.dir).database, { readonly: true });
    const currentVersion = async (name: string) => (await registry.peers.find(name))?.tokenVersion;
    try {
      await expect(verifyPeerToken(result.stdout.trim(), key.publicKey, { currentVersion })).resolves.toMatchObject({ name: 'erin' });
      expect(await ok('peer', 'revoke', 'erin')).toMatch(/revoked all tokens of erin; new tokens carry version \d+/);
      await expect(verifyPeerToken(result.stdout.trim(), key.publicKey, { currentVersion })).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    } finally {
      await registry.close();
    }
  });

  it('prints peer add as JSON', async () => {
    const added = JSON.parse(await ok('peer', 'add', 'frank', '--json'));
    expect(added).toMatchObject({ peer: { name: 'frank' }, hubLink: { ends: ['hub', 'frank'], hubLink: true } });
  });

  it('removes a peer and hands its /30 to the next one', async () => {
    expect(await ok('peer', 'remove', 'bob')).toBe('removed peer bob; released 10.1.12.4/30\n');
    expect(JSON.parse(await ok('peer', 'add', 'gina', '--json')).hubLink.prefix).toBe('10.1.12.4/30');
  });
});

describe('link', () => {
  it('adds, lists and removes peer<->peer links', async () => {
    expect(await ok('link', 'add', 'carol', 'alice')).toMatch(/^linked carol <-> alice: 10\.1\.12\.\d+\/30 \(carol 10\.1\.12\.\d+, alice 10\.1\.12\.\d+\), key \d+\n$/);
    const links = JSON.parse(await ok('link', 'list', '--json'));
    expect(links).toEqual([expect.objectContaining({ ends: ['carol', 'alice'], hubLink: false })]);
    expect(await ok('link', 'list')).toMatch(/^A\s+B\s+PREFIX\s+A ADDRESS\s+B ADDRESS\s+KEY\s+KIND\s+AGE\s+RATE\s+WHY\ncarol\s+alice\s+/);
    // `peer table` is about the hub link only, whatever other links the peer has.
    expect(JSON.parse(await ok('peer', 'table', 'alice', '--json')).ends[0].name).toBe('hub');
    expect(await ok('link', 'remove', 'alice', 'carol')).toMatch(/^removed link carol <-> alice; released /);
    expect(JSON.parse(await ok('link', 'list', '--json'))).toEqual([]);
    expect(await ok('link', 'list')).toMatch(/^no peer links/);
  });

  it('refuses unknown peers, self links, hub ends, duplicates and missing links, changing nothing', async () => {
    await ok('link', 'add', 'alice', 'carol');
    await refused('ERR_LINK_EXISTS', 'link', 'add', 'carol', 'alice');
    await refused('ERR_PEER_NOT_FOUND', 'link', 'add', 'alice', 'nobody');
    await refused('ERR_INVALID_ARGUMENT', 'link', 'add', 'alice', 'alice');
    await refused('ERR_INVALID_ARGUMENT', 'link', 'add', 'hub', 'alice');
    await refused('ERR_LINK_NOT_FOUND', 'link', 'remove', 'alice', 'erin');
  });
});

describe('invite', () => {
  const hubKey = () => loadHubSigningKey(hubStatePaths(state.dir).signingKey);

  it('prints the signed invite alone and records its jti, expiry and uses', async () => {
    const stdout = await ok('invite', 'create', '--expires', '2h', '--uses', '3', '--pool', '10.1.12.0/24');
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = await verifyInviteToken(stdout.trim(), hubKey().publicKey);
    expect(claims.pool).toBe('10.1.12.0/24');
    expect(claims.expiresAt - Date.now()).toBeGreaterThan(2 * 3_600_000 - 60_000);
    const rows = (await registrySnapshot(state.dir)).tables.invites as { jti: string; uses_left: number; expires_at: number }[];
    expect(rows.find((row) => row.jti === claims.jti)).toMatchObject({ uses_left: 3, expires_at: claims.expiresAt });
  });

  it('refuses bad durations, use counts and pools, changing nothing', async () => {
    await refused('ERR_INVALID_ARGUMENT', 'invite', 'create', '--expires', 'soon');
    await refused('ERR_INVALID_ARGUMENT', 'invite', 'create', '--uses', '0');
    await refused('ERR_POOL_NOT_FOUND', 'invite', 'create', '--pool', '10.200.0.0/16');
  });

  it('an expired invite is refused and changes nothing', async () => {
    const token = (await ok('invite', 'create', '--expires', '1s')).trim();
    // Read as of its issue, however long the CLI took: a one-second life may be over already.
    const { iat } = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { iat: number };
    const claims = await verifyInviteToken(token, hubKey().publicKey, { now: iat * 1000 });
    const later = claims.expiresAt + 1000;
    await expect(verifyInviteToken(token, hubKey().publicKey, { now: later })).rejects.toMatchObject({ code: 'ERR_TOKEN_EXPIRED' });
    const before = await registrySnapshot(state.dir);
    const registry = await Registry.open(hubStatePaths(state.dir).database, { clock: () => later });
    try {
      await expect(registry.peers.add({ name: 'late', inviteJti: claims.jti })).rejects.toThrow(expect.objectContaining({ code: 'ERR_TOKEN_EXPIRED' }));
    } finally {
      await registry.close();
    }
    expect(await registrySnapshot(state.dir)).toEqual(before);
  });

  it('a used invite is refused and changes nothing', async () => {
    const token = (await ok('invite', 'create')).trim();
    const { jti } = await verifyInviteToken(token, hubKey().publicKey);
    const registry = await Registry.open(hubStatePaths(state.dir).database);
    try {
      await registry.peers.add({ name: 'joiner', inviteJti: jti });
      const before = await registry.exportTables();
      await expect(registry.peers.add({ name: 'second', inviteJti: jti })).rejects.toThrow(expect.objectContaining({ code: 'ERR_TOKEN_USED' }));
      await expect(registry.invites.redeem(jti)).rejects.toThrow(expect.objectContaining({ code: 'ERR_TOKEN_USED' }));
      expect(await registry.exportTables()).toEqual(before);
    } finally {
      await registry.close();
    }
  });

  it('a forged or tampered invite is refused and changes nothing', async () => {
    const genuine = (await ok('invite', 'create')).trim();
    const before = await registrySnapshot(state.dir);
    const stranger = generateKeyPairSync('ed25519');
    const forged = await issueInviteToken(stranger.privateKey, { now: Date.now(), ttlMs: 3_600_000 });
    expect((await rejectionOf(verifyInviteToken(forged.token, hubKey().publicKey))).code).toBe('ERR_TOKEN_INVALID');
    const [head, body] = genuine.split('.');
    const tampered = `${head}.${body}.${Buffer.from('not the signature').toString('base64url')}`;
    await expect(verifyInviteToken(tampered, hubKey().publicKey)).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    expect(await registrySnapshot(state.dir)).toEqual(before);
  });
});

describe('pool exhaustion and removal through the CLI', () => {
  it('reports exhaustion with advice and refuses removing a used pool, changing nothing', async () => {
    await ok('pool', 'add', '10.1.20.0/30');
    const peers = JSON.parse(await ok('pool', 'list', '--json')) as { cidr: string; free: number }[];
    const free = peers.reduce((sum, p) => sum + p.free, 0);
    const registry = await Registry.open(hubStatePaths(state.dir).database);
    try {
      for (let i = 0; i < free; i++) await registry.peers.add({ name: `filler-${i}` });
    } finally {
      await registry.close();
    }
    expect(await refused('ERR_POOL_EXHAUSTED', 'peer', 'add', 'onemore')).toMatch(/no free \/30 left in 10\.1\.12\.0\/24, 10\.1\.20\.0\/30; add a pool/);
    await refused('ERR_POOL_EXHAUSTED', 'link', 'add', 'alice', 'erin');
    await refused('ERR_POOL_IN_USE', 'pool', 'remove', '10.1.20.0/30');
  });
});

describe('help', () => {
  it('every command has --help', async () => {
    const helps = [[], ['init'], ['pool'], ['pool', 'add'], ['pool', 'list'], ['pool', 'remove'], ['peer'], ['peer', 'add'], ['peer', 'list'], ['peer', 'show'],
      ['peer', 'remove'], ['peer', 'revoke'], ['peer', 'table'], ['invite'], ['invite', 'create'], ['link'], ['link', 'add'], ['link', 'list'], ['link', 'remove']];
    // A few at a time: each is a whole node start-up, and nothing here depends on another.
    for (let i = 0; i < helps.length; i += 4) {
      const batch = helps.slice(i, i + 4);
      const results = await Promise.all(batch.map((args) => cli(...args, '--help')));
      results.forEach((result, j) => {
        expect(result.code, (batch[j] ?? []).join(' ')).toBe(0);
        expect(result.stdout).toMatch(/^Usage: tunnel-hub/);
      });
    }
  });
});
