import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';

/** How often the hub checks whether another process changed the registry, where it has to poll: a CLI change reaches members well within a second. */
export const REGISTRY_POLL_MS = 100;

/** A running watcher. */
export interface RegistryChangeWatcher {
  stop(): Promise<void>;
}

/**
 * Notices registry changes committed by other processes (the admin CLI's `link add`, `peer pin`,
 * `peer remove`) through the backend's change notifications, and calls `changed` once per change
 * burst: a change arriving while `changed` runs is handled by one more run after it.
 */
export function watchRegistryChanges(registry: Registry, changed: () => Promise<void>, log: Logger,
  intervalMs = REGISTRY_POLL_MS): RegistryChangeWatcher {
  let running = false;
  let pending = false;
  const reconcile = (): void => {
    if (running) {
      pending = true;
      return;
    }
    running = true;
    pending = false;
    log.info('registry changed by another process; reconciling members');
    changed().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'reconciling after a registry change failed'))
      .finally(() => {
        running = false;
        if (pending) reconcile();
      });
  };
  return registry.watchChanges(reconcile, (err) => log.warn({ err: err.message }, 'cannot watch the registry for changes'), intervalMs);
}
