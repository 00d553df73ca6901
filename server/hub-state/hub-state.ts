import { existsSync } from 'node:fs';
import { TunnelError } from '../../shared/errors.js';
import { loadHubSigningKey, parseHubSigningKey, type HubSigningKey } from '../auth/hub-signing-key.js';
import type { Clock } from '../registry/registry-context.js';
import { Registry } from '../registry/registry.js';
import { readClusterConfig, type ClusterConfig } from './cluster-config.js';
import { hubStatePaths, type HubStatePaths } from './hub-state-paths.js';

/** An opened hub state folder: its registry and token signing key. Close it when done. */
export interface HubState {
  readonly paths: HubStatePaths;
  readonly registry: Registry;
  readonly signingKey: HubSigningKey;
  /** The registry's clock, for token times that must agree with it. */
  readonly clock: Clock;
  /** Set for a hub of a cluster: the shared registry's URL and this hub's name. */
  readonly cluster: ClusterConfig | undefined;
  close(): Promise<void>;
}

/**
 * Opens an initialised state folder; ERR_NOT_INITIALIZED (never creating anything) otherwise. A
 * hub of a cluster opens the shared registry its `cluster.json` names and takes the signing key
 * from it; a hub alone opens its SQLite file and key file.
 */
export async function openHubState(dir: string, options: { clock?: Clock } = {}): Promise<HubState> {
  const paths = hubStatePaths(dir);
  const clock = options.clock ?? Date.now;
  const cluster = await readClusterConfig(paths.cluster);
  if (!cluster && (!existsSync(paths.database) || !existsSync(paths.signingKey))) {
    throw new TunnelError('ERR_NOT_INITIALIZED', `no hub state in ${dir}; run \`tunnel-hub init --endpoint ADDR\` first (or pass --state DIR)`);
  }
  const registry = await Registry.open(cluster?.registry ?? paths.database, { clock });
  try {
    await registry.settings.require();
    const signingKey = cluster ? await sharedSigningKey(registry) : loadHubSigningKey(paths.signingKey);
    return { paths, registry, signingKey, clock, cluster, close: () => registry.close() };
  } catch (err) {
    await registry.close();
    throw err;
  }
}

/** Opens the state folder, runs `fn`, and closes it again whatever happens. */
export async function withHubState<T>(dir: string, fn: (state: HubState) => T | Promise<T>): Promise<T> {
  const state = await openHubState(dir);
  try {
    return await fn(state);
  } finally {
    await state.close();
  }
}

async function sharedSigningKey(registry: Registry): Promise<HubSigningKey> {
  const pem = await registry.clusterSecrets.findSigningKey();
  if (pem === undefined) throw new TunnelError('ERR_NOT_INITIALIZED', `the registry ${registry.location} holds no signing key; run \`tunnel-hub init --registry … --hub-name …\` again`);
  return parseHubSigningKey(pem, `in the registry ${registry.location}`);
}
