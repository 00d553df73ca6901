import { chmodSync, mkdirSync } from 'node:fs';
import { STATE_FOLDER_MODE } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';
import { isIpv4Address } from '../../shared/net/ipv4-address.js';
import { formatIpv4Prefix, parseIpv4Prefix } from '../../shared/net/ipv4-prefix.js';
import { ensureHubSigningKey } from '../auth/hub-signing-key.js';
import { Registry } from '../registry/registry.js';
import { readClusterConfig } from './cluster-config.js';
import { hubStatePaths, type HubStatePaths } from './hub-state-paths.js';

/** What `init` did; every flag false means it found everything already in place. */
export interface InitResult {
  readonly paths: HubStatePaths;
  readonly createdKey: boolean;
  readonly changedEndpoint: boolean;
  readonly addedPool: string | null;
}

/**
 * Creates or completes a hub state folder (mode 0700): signing key and registry (0600), the
 * hub's endpoint and optionally a first pool. Safe to run again: an existing key is kept, the
 * same pool is not added twice, a new endpoint replaces the old one. Arguments are checked
 * before anything is created.
 */
export async function initHubState(dir: string, options: { endpoint: string; pool?: string }): Promise<InitResult> {
  if (!isIpv4Address(options.endpoint)) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `--endpoint "${options.endpoint}" is not an IPv4 address (e.g. 198.51.100.1)`);
  }
  const pool = options.pool === undefined ? undefined : formatIpv4Prefix(parseIpv4Prefix(options.pool));
  const paths = hubStatePaths(dir);
  const cluster = await readClusterConfig(paths.cluster);
  if (cluster) {
    throw new TunnelError('ERR_STATE', `${dir} is hub "${cluster.hubName}" of a cluster; run init with --registry and --hub-name, or use another state folder`);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: STATE_FOLDER_MODE });
    chmodSync(dir, STATE_FOLDER_MODE);
  } catch (err) {
    throw new TunnelError('ERR_STATE', `cannot create the state folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const createdKey = ensureHubSigningKey(paths.signingKey);
  const registry = await Registry.open(paths.database);
  try {
    return await registry.transaction(async (tx) => {
      const changedEndpoint = await tx.settings.setEndpoint(options.endpoint);
      const hasPool = pool !== undefined && (await tx.pools.list()).some((p) => p.cidr === pool);
      if (pool !== undefined && !hasPool) await tx.pools.add(pool);
      return { paths, createdKey, changedEndpoint, addedPool: pool !== undefined && !hasPool ? pool : null };
    });
  } finally {
    await registry.close();
  }
}
