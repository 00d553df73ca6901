import { ssh2Utils } from './ssh2-utils.js';
import { TunnelError } from '../errors.js';

/** An OpenSSH-format key pair: the private key file text and the `ssh-ed25519 AAAA… comment` line. */
export interface OpenSshKeyPair {
  private: string;
  public: string;
}

const MAX_ATTEMPTS = 16;

/**
 * Generates an Ed25519 key pair in OpenSSH format. ssh2 writes a public key whose first byte is
 * 0x00 as 31 bytes (a bignum encoding), which its own parser, and OpenSSH, then refuse: about one
 * key in 256. Such a pair is drawn again, so every stored identity and host key parses.
 */
export function generateEd25519KeyPair(comment: string): OpenSshKeyPair {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const pair = ssh2Utils().generateKeyPairSync('ed25519', { comment });
    const parsesBack = !(ssh2Utils().parseKey(pair.private) instanceof Error)
      && !(ssh2Utils().parseKey(pair.public) instanceof Error);
    if (parsesBack) return { private: pair.private, public: pair.public };
  }
  throw new TunnelError('ERR_INTERNAL', `no well-formed ed25519 key after ${MAX_ATTEMPTS} attempts`);
}
