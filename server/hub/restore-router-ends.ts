import type { Logger } from 'pino';
import type { ControlPlane } from '../control/control-plane.js';
import type { Registry } from '../registry/registry.js';

/**
 * Brings back, after a hub start, the hub ends of routers that report over dyndns2: they hold no
 * session that would reconnect, and their DDNS client only calls again when their address
 * changes. Each end is aimed at the router's last verified address, through the same path as an
 * update; a router that is not there any more simply gets no answer until it reports again.
 */
export async function restoreRouterEnds(registry: Registry, plane: ControlPlane, log: Logger, hubName?: string): Promise<string[]> {
  const restored: string[] = [];
  for (const peer of await registry.dyndnsKeys.peersWithKeys()) {
    // In a cluster, a router another hub serves stays there.
    const owner = hubName === undefined ? null : await registry.sessions.owner(peer);
    if (owner !== null && owner !== hubName) continue;
    const latest = await registry.endpoints.latest(peer);
    if (!latest) continue;
    try {
      await plane.reportFromShell(peer, latest.address);
      restored.push(peer);
    } catch (err) {
      log.warn({ peer, err: (err as Error).message }, 'could not restore the hub end of a dyndns2 router');
    }
  }
  if (restored.length > 0) log.info({ peers: restored }, 'restored the hub ends of dyndns2 routers at their last verified address');
  return restored;
}
