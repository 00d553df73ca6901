import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';

/** How often a hub of a cluster writes its heartbeat. */
export const HUB_HEARTBEAT_MS = 1_000;

/** A hub whose heartbeat is older than this is `down` (five missed heartbeats). */
export const HUB_FRESH_MS = 5_000;

/** A hub's running membership in its cluster. */
export interface ClusterMembership {
  /** Stops the heartbeat and marks the hub down at once (a clean shutdown). */
  stop(): Promise<void>;
}

/**
 * Announces a serving hub to its cluster (where its front doors listen, whether it encrypts) and keeps its heartbeat
 * fresh. A heartbeat that cannot be written (the registry restarting) is logged and retried on
 * the next beat; the hub keeps serving meanwhile.
 */
export async function startClusterMembership(registry: Registry, hubName: string, listen: { wsUrl: string; sshPort: number; encrypt?: boolean },
  log: Logger): Promise<ClusterMembership> {
  await registry.hubs.serving(hubName, listen);
  let failing = false;
  const timer = setInterval(() => {
    registry.hubs.heartbeat(hubName).then(() => {
      if (failing) log.info({ hub: hubName }, 'heartbeat written again');
      failing = false;
    }, (err: unknown) => {
      if (!failing) log.warn({ hub: hubName, err: (err as Error).message }, 'cannot write the heartbeat');
      failing = true;
    });
  }, HUB_HEARTBEAT_MS);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await registry.hubs.stopped(hubName).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'cannot mark the hub stopped'));
    },
  };
}
