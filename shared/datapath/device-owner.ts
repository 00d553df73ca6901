import { createHash } from 'node:crypto';
import { TunnelError } from '../errors.js';

/**
 * Whose devices these are. Every device an engine with an owner makes joins link group `group`
 * with alias `alias` (IFLA_IFALIAS, `ip link show` prints it): a hub started again after a crash
 * finds its own devices by the alias and leaves every other one alone, and at shutdown deletes all
 * of them in one request by the group.
 */
export interface DeviceOwner {
  readonly group: number;
  readonly alias: string;
}

/** The owner named `alias` (1-255 bytes, e.g. "tunnel-hub:SHA256:…"), its link group derived from it, never 0. */
export function deviceOwner(alias: string): DeviceOwner {
  if (alias.length === 0 || Buffer.byteLength(alias) > 255) throw new TunnelError('ERR_INVALID_ARGUMENT', `a device owner's alias must be 1-255 bytes, got ${Buffer.byteLength(alias)}`);
  // Group 0 is every interface's default; the hash keeps two owners on one host apart.
  const group = 1 + (createHash('sha256').update(alias).digest().readUInt32BE(0) % 0xffff_fffe);
  return { group, alias };
}
