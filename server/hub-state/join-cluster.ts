import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { STATE_FOLDER_MODE } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';
import { isIpv4Address } from '../../shared/net/ipv4-address.js';
import { formatIpv4Prefix, parseIpv4Prefix } from '../../shared/net/ipv4-prefix.js';
import { generateHubSigningKeyPem } from '../auth/hub-signing-key.js';
import { loadOrCreateSshHostKey, sshHostKeyFingerprint } from '../hub/ssh-host-key.js';
import { validateHubName } from '../registry/hub-directory-store.js';
import { isPostgresUrl } from '../registry/open-registry-backend.js';
import { Registry } from '../registry/registry.js';
import { readClusterConfig, writeClusterConfig } from './cluster-config.js';
import { hubStatePaths, type HubStatePaths } from './hub-state-paths.js';

/** What `init --registry` did. */
export interface JoinResult {
  readonly paths: HubStatePaths;
  /** This hub was new to the cluster (else it joined again from its own state folder). */
  readonly joined: boolean;
  /** This hub created the cluster's schema and shared signing key (the first hub). */
  readonly createdKey: boolean;
  readonly changedEndpoint: boolean;
  readonly addedPool: string | null;
  readonly hostKeyFingerprint: string;
}

/** What joining a cluster takes. */
export interface JoinOptions {
  /** postgres://… of the shared registry. */
  readonly registry: string;
  readonly hubName: string;
  /** This hub's public IPv4 address. */
  readonly endpoint: string;
  /** A pool to add when the cluster has no such pool yet. */
  readonly pool?: string;
}

/**
 * `tunnel-hub init --registry postgres://… --hub-name NAME --endpoint ADDR`: makes the state folder
 * (0700) a hub of the cluster. The first hub creates the schema, the shared token signing key and
 * the cluster's hub settings; every hub keeps its own SSH host key here and registers its name,
 * endpoint and host key fingerprint. `cluster.json` (0600) remembers the registry URL. Safe to run
 * again with the same name; every argument is checked before anything is written.
 */
export async function joinCluster(dir: string, options: JoinOptions): Promise<JoinResult> {
  if (!isPostgresUrl(options.registry)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', '--registry takes a PostgreSQL URL, postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE');
  }
  validateHubName(options.hubName);
  if (!isIpv4Address(options.endpoint)) {
    throw new TunnelError('ERR_INVALID_ADDRESS', `--endpoint "${options.endpoint}" is not an IPv4 address (e.g. 198.51.100.2)`);
  }
  const pool = options.pool === undefined ? undefined : formatIpv4Prefix(parseIpv4Prefix(options.pool));
  const paths = hubStatePaths(dir);
  if (existsSync(paths.database)) {
    throw new TunnelError('ERR_STATE', `${dir} holds the registry of a hub that runs alone (${paths.database}); a hub of a cluster needs a state folder of its own`);
  }
  const previous = await readClusterConfig(paths.cluster);
  if (previous && (previous.registry !== options.registry || previous.hubName !== options.hubName)) {
    throw new TunnelError('ERR_STATE', `${dir} already belongs to hub "${previous.hubName}" of another cluster or name; use a new state folder`);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: STATE_FOLDER_MODE });
    chmodSync(dir, STATE_FOLDER_MODE);
  } catch (err) {
    throw new TunnelError('ERR_STATE', `cannot create the state folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const hostKeyFingerprint = sshHostKeyFingerprint(loadOrCreateSshHostKey(dir));
  const registry = await Registry.open(options.registry);
  try {
    const result = await registry.transaction(async (tx) => {
      const key = await tx.clusterSecrets.signingKey(generateHubSigningKeyPem);
      // The cluster's own settings (GRE key and token counters) come with the first hub.
      if (!(await tx.settings.get())) await tx.settings.setEndpoint(options.endpoint);
      const hub = await tx.hubs.join({ name: options.hubName, endpoint: options.endpoint, hostKeyFingerprint });
      const hasPool = pool !== undefined && (await tx.pools.list()).some((p) => p.cidr === pool);
      if (pool !== undefined && !hasPool) await tx.pools.add(pool);
      return { joined: hub.created, createdKey: key.created, changedEndpoint: hub.changedEndpoint, addedPool: pool !== undefined && !hasPool ? pool : null };
    });
    writeClusterConfig(paths.cluster, { registry: options.registry, hubName: options.hubName });
    return { paths, hostKeyFingerprint, ...result };
  } finally {
    await registry.close();
  }
}
