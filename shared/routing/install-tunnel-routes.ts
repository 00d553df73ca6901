import type { Logger } from 'pino';
import { isTunnelError } from '../errors.js';
import type { WireTunnelSpec } from '../protocol/index.js';
import type { KernelRoutes } from './kernel-routes.js';

/**
 * Puts a spec's `routes` on its interface (`link`, when the tunnel shares another's: then its IPv4
 * routes take the tunnel's inner address as source, as on a device of its own, since the shared
 * device holds no address). A route the kernel refuses (IPv6 turned off, a route
 * someone else holds) is logged, never fatal: the tunnel itself runs, status lists the routes
 * that are in, and the next config retries the rest.
 */
export async function installTunnelRoutes(routes: KernelRoutes, spec: WireTunnelSpec, fresh: boolean, log: Logger, link = spec.name): Promise<void> {
  const source = link === spec.name ? undefined : spec.address.split('/')[0];
  try {
    await routes.setDevice(spec.name, spec.routes ?? [], spec.routeMetric ?? 0, fresh, link, source);
  } catch (err) {
    log.warn({ tunnel: spec.name, code: isTunnelError(err) ? err.code : undefined, err: (err as Error).message, installed: routes.routesOf(spec.name).length,
      wanted: spec.routes?.length ?? 0 }, 'not every route could be installed on the tunnel');
  }
}
