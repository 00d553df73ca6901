import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { parseSshPublicKey } from '../../server/auth/ssh-public-key.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';
import { refusalOf } from '../helpers/error-code.js';

// Public keys and the fingerprints `ssh-keygen -lf` printed for them (OpenSSH 9.2).
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKOgGDn1il/ACTL9w6XmN1qyMXY+ynk0Y/RmYjI4zCs me@x';
const ED25519_FINGERPRINT = 'SHA256:Cb8Gu0qz6nQ6vNSs1Pa9RJJ67eVKfxNIPu4r9R3HvCA';
const ECDSA_521 = 'ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBADkLrm6Q1fBlCiS6h7GFe4WbJMDe7AWGv3Ou7liCTYvej7IJ/EE8cdi3ms9Mk5kI0WqPopahClIblAAIPt9qo2AwwBn1Ill73ffRYN8/YPe1mX7cUbUeCYyunrVPs+5HXQS3cfA4AtVqVRZATPqgOxDJRE3TqQ5v5ZYg4m/Gt3FjOS+SA== ec@x';
const ECDSA_521_FINGERPRINT = 'SHA256:ckZOfkesdfIO97VAwhst/DGlXrS+w0f7Aii3XkbsdyA';
const DSA = 'ssh-dss AAAAB3NzaC1kc3MAAACBAISV0TWwYMuswGlFlS12irsaTebSU6VnzRfkcrh4cE8WUGOTDr4hLxtxeb2dhreSlddO6NQkQXKJG9mDJxE5tEwpv/GJOBxud4zPhfkXfjShqvNeilgvgsEtrFX5rA611Qft+7GuHmX019PFcLqDISBdncbcOo+xy1i18nhHkZNxAAAAFQDYV1mpwnK5sDARZd2wosBmMYN8NQAAAIArm44zvynR5YrW9sIiWxDFjWLXsk+i4ngP8sqTk+vtDUAt3rrgIrdDrgfN4Ef4NA0h3h3VoXc1sHcBs0SDEhLSB7SPfd3sPJT1I58r8PpA2+St84TZj7sk/mNd9udpiZKZyghYS4zleIkvkx1IyQvMZvUhverZv6OdAConwIfvCAAAAIBBE9D533e0yE3opmXM1rpIUdvDLz0zdRBmu+xlcV5FNkELxD4KmF4QYPr6EFyj55eJVvfKeWLmzw6DnLZ4dmR6q5hc4VzPg9xteokTF6gv0ENLWdane6ETZ/O2/7jjYOgO6e6y1t1nfJx4qAIS4cza1LspGamCPu3S+aj4PUvxRA== dsa@x';
const ED25519_CERT = 'ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIJxIK9sTdWONki/dpxuW+u1lT1Ja72V0VRSusLLnn3y0AAAAIPKOgGDn1il/ACTL9w6XmN1qyMXY+ynk0Y/RmYjI4zCsAAAAAAAAAAAAAAABAAAAAmlkAAAACQAAAAVhbGljZQAAAAAAAAAA//////////8AAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACBZomWtiKRZYCOnb6dkiNFly7NeU7Y1jyqo3B7Vi0TgqwAAAFMAAAALc3NoLWVkMjU1MTkAAABAe+U4//bvknqq4W5U3cZcnrpA/VMgXx+PbvOK2ALVc3BU27oq6gD8S7Pg4OF7lZlnXG25nA0ROAQcdVuWGTddAw== me@x';

describe('parseSshPublicKey', () => {
  it('accepts ed25519 with the fingerprint ssh-keygen prints', () => {
    expect(parseSshPublicKey(ED25519)).toEqual({
      algorithm: 'ssh-ed25519',
      publicKey: ED25519.replace(/ me@x$/, ''),
      comment: 'me@x',
      fingerprint: ED25519_FINGERPRINT,
    });
  });

  it('accepts ecdsa nistp521 with the fingerprint ssh-keygen prints', () => {
    const key = parseSshPublicKey(`  ${ECDSA_521}\n`);
    expect(key.algorithm).toBe('ecdsa-sha2-nistp521');
    expect(key.fingerprint).toBe(ECDSA_521_FINGERPRINT);
  });

  it('keeps a missing comment as null', () => {
    expect(parseSshPublicKey(ED25519.replace(/ me@x$/, '')).comment).toBeNull();
  });

  it.each([
    ['ed25519', {}],
    ['ecdsa', { bits: 256 }],
    ['ecdsa', { bits: 384 }],
    ['ecdsa', { bits: 521 }],
    ['rsa', { bits: 2048 }],
  ] as const)('accepts a generated %s key %j', (type, options) => {
    const pair = ssh2.utils.generateKeyPairSync(type, { ...options, comment: 'test' });
    const key = parseSshPublicKey(pair.public);
    expect(key.publicKey).toBe(pair.public.replace(/ test$/, ''));
    expect(key.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('refuses RSA under 2048 bits, saying how many it has', () => {
    const pair = ssh2.utils.generateKeyPairSync('rsa', { bits: 1024 });
    expect(refusalOf(() => parseSshPublicKey(pair.public))).toMatchObject({ code: 'ERR_SSH_KEY_INVALID', message: expect.stringMatching(/at least 2048 bits; this one has 1024/) });
  });

  it('refuses a private key', () => {
    const pair = generateEd25519KeyPair('test');
    expect(refusalOf(() => parseSshPublicKey(pair.private))).toMatchObject({ code: 'ERR_SSH_KEY_INVALID', message: expect.stringMatching(/private key/) });
  });

  it('refuses DSA', () => {
    expect(refusalOf(() => parseSshPublicKey(DSA))).toMatchObject({ code: 'ERR_SSH_KEY_INVALID', message: expect.stringMatching(/DSA keys are not accepted/) });
  });

  it('refuses certificates', () => {
    expect(refusalOf(() => parseSshPublicKey(ED25519_CERT))).toMatchObject({ code: 'ERR_SSH_KEY_INVALID', message: expect.stringMatching(/is not accepted/) });
  });

  it('refuses several lines', () => {
    expect(refusalOf(() => parseSshPublicKey(`${ED25519}\n${ECDSA_521}`))).toMatchObject({ code: 'ERR_SSH_KEY_INVALID', message: expect.stringMatching(/exactly one public key line/) });
  });

  it.each([
    '',
    'garbage',
    'ssh-ed25519',
    'ssh-ed25519 AAAA',
    'ssh-ed25519 not-base64!',
    // an RSA blob labelled as ed25519
    `ssh-ed25519 ${ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }).public.split(' ')[1]}`,
    // authorized_keys options in front of the key
    `from="192.0.2.1" ${ED25519}`,
  ])('refuses %j', (text) => {
    expect(refusalOf(() => parseSshPublicKey(text))).toMatchObject({ code: 'ERR_SSH_KEY_INVALID', message: expect.stringMatching(/./) });
  });

  it('refuses key data with trailing bytes', () => {
    const [type, data] = ED25519.split(' ') as [string, string];
    const padded = Buffer.concat([Buffer.from(data, 'base64'), Buffer.from([0, 0, 0, 0])]).toString('base64');
    expect(refusalOf(() => parseSshPublicKey(`${type} ${padded}`))).toMatchObject({ code: 'ERR_SSH_KEY_INVALID', message: expect.stringMatching(/canonical/) });
  });
});
