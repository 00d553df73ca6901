import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { HUB_STATE_FOLDER } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';

/** What a hub of a cluster keeps in its state folder: where the shared registry is and who it is. */
export interface ClusterConfig {
  /** The PostgreSQL URL; it may hold a password, hence the file's mode 0600. */
  readonly registry: string;
  readonly hubName: string;
}

const CLUSTER_CONFIG = z.object({ registry: z.string().min(1), hubName: z.string().min(1) }).strict();

/** The cluster config at `path`, or undefined for a hub that runs alone. */
export function readClusterConfig(path: string): ClusterConfig | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TunnelError('ERR_STATE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return CLUSTER_CONFIG.parse(JSON.parse(text));
  } catch {
    throw new TunnelError('ERR_STATE', `${path} is not a cluster config ({ "registry": URL, "hubName": NAME }); run \`tunnel-hub init --registry … --hub-name …\` again`);
  }
}

/** Writes the cluster config with mode 0600 (created so, never wider even for a moment). */
export function writeClusterConfig(path: string, config: ClusterConfig): void {
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: HUB_STATE_FOLDER.cluster.mode });
  chmodSync(path, HUB_STATE_FOLDER.cluster.mode);
}
