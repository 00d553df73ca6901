import { createRequire } from 'node:module';
import type ssh2 from 'ssh2';

let loaded: typeof ssh2.utils | undefined;

/**
 * ssh2's key utilities, loaded on first use: ssh2 costs a few hundred ms to load, which every
 * admin command (`peer list`, `status`) would pay although only key parsing needs it.
 */
export function ssh2Utils(): typeof ssh2.utils {
  loaded ??= (createRequire(import.meta.url)('ssh2') as typeof ssh2).utils;
  return loaded;
}
