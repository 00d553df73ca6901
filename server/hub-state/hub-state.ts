import { existsSync } from 'node:fs';
import { TunnelError } from '../../shared/errors.js';
import { loadHubSigningKey, type HubSigningKey } from '../auth/hub-signing-key.js';
import type { Clock } from '../registry/registry-context.js';
import { Registry } from '../registry/registry.js';
import { hubStatePaths, type HubStatePaths } from './hub-state-paths.js';

/** An opened hub state folder: its registry and token signing key. Close it when done. */
export interface HubState {
  readonly paths: HubStatePaths;
  readonly registry: Registry;
  readonly signingKey: HubSigningKey;
  /** The registry's clock, for token times that must agree with it. */
  readonly clock: Clock;
  close(): Promise<void>;
}

/** Opens an initialised state folder; ERR_NOT_INITIALIZED (never creating anything) otherwise. */
export async function openHubState(dir: string, options: { clock?: Clock } = {}): Promise<HubState> {
  const paths = hubStatePaths(dir);
  if (!existsSync(paths.database) || !existsSync(paths.signingKey)) {
    throw new TunnelError('ERR_NOT_INITIALIZED', `no hub state in ${dir}; run \`tunnel-hub init --endpoint ADDR\` first (or pass --state DIR)`);
  }
  const signingKey = loadHubSigningKey(paths.signingKey);
  const clock = options.clock ?? Date.now;
  const registry = await Registry.open(paths.database, { clock });
  try {
    await registry.settings.require();
  } catch (err) {
    await registry.close();
    throw err;
  }
  return { paths, registry, signingKey, clock, close: () => registry.close() };
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
