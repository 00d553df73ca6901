import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';
import { parseSshPublicKey } from '../../server/auth/ssh-public-key.js';

describe('generateEd25519KeyPair', () => {
  // ssh2 alone gets about 1 key in 256 wrong; 2,000 draws hit that case with near certainty.
  it('only ever returns pairs that ssh2 and the registry parse back', () => {
    for (let i = 0; i < 2000; i++) {
      const pair = generateEd25519KeyPair('member');
      expect(ssh2.utils.parseKey(pair.private)).not.toBeInstanceOf(Error);
      expect(parseSshPublicKey(pair.public).algorithm).toBe('ssh-ed25519');
    }
  });
});
