import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';

/** How often the hub checks whether another process changed the registry: a CLI change reaches members well within a second. */
export const REGISTRY_POLL_MS = 250;

/** A running watcher. */
export interface RegistryChangeWatcher {
  stop(): void;
}

/**
 * Notices registry changes committed by other processes (the admin CLI's `link add`, `peer pin`,
 * `peer remove`) by polling SQLite's data_version, and calls `changed` once per change burst. The
 * hub's own writes do not move data_version, so its own reconfigurations never loop back here.
 */
export function watchRegistryChanges(registry: Registry, changed: () => Promise<void>, log: Logger,
  intervalMs = REGISTRY_POLL_MS): RegistryChangeWatcher {
  let seen = registry.dataVersion();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    let now: number;
    try {
      now = registry.dataVersion();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot read the registry data version');
      return;
    }
    if (now === seen) return;
    seen = now;
    busy = true;
    log.info('registry changed by another process; reconciling members');
    changed().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'reconciling after a registry change failed'))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
