import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { HUB_STATE_FOLDER } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';

/** What a hub of a cluster keeps in its state folder: where the shared registry is and who it is. */
export interface ClusterConfig {
  /** The PostgreSQL URL; it may hold a password, hence the file's mode 0600. */
  readonly registry: string;
  readonly hubName: string;
}

/**
 * The cluster config at `path`, or undefined for a hub that runs alone. zod is imported only when
 * the file exists: a hub alone (and every CLI run on one) has no other use for it.
 */
export async function readClusterConfig(path: string): Promise<ClusterConfig | undefined> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TunnelError('ERR_STATE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const { z } = await import('zod');
  try {
    return z.object({ registry: z.string().min(1), hubName: z.string().min(1) }).strict().parse(JSON.parse(text));
  } catch {
    throw new TunnelError('ERR_STATE', `${path} is not a cluster config ({ "registry": URL, "hubName": NAME }); run \`tunnel-hub init --registry … --hub-name …\` again`);
  }
}

/** Writes the cluster config with mode 0600 (created so, never wider even for a moment). */
export function writeClusterConfig(path: string, config: ClusterConfig): void {
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: HUB_STATE_FOLDER.cluster.mode });
  chmodSync(path, HUB_STATE_FOLDER.cluster.mode);
}
