import type { HubStatus } from './hub-status.js';
import { filterHubStatus, type PeerFilter } from './peer-filter.js';
import { readStatusSocket, statusSocketPath } from './status-socket.js';

/**
 * The status of the hub in `stateDir`, with the peers `filter` selects: from the running `serve`
 * when there is one (which filters before it writes), else from the registry.
 */
export async function hubStatusReport(stateDir: string, filter: PeerFilter = {}): Promise<HubStatus> {
  const live = await readStatusSocket(statusSocketPath(stateDir), { view: 'status', filter });
  // Filtered here too: a hub started before the socket took requests sends every peer.
  if (live !== undefined) return filterHubStatus(live as HubStatus, filter);
  // Loaded only without a running hub: the registry is most of what `status` would load.
  const [{ withHubState }, { buildHubStatus }] = await Promise.all([import('../hub-state/hub-state.js'), import('./hub-status.js')]);
  return withHubState(stateDir, async ({ registry, cluster }) => filterHubStatus(await buildHubStatus(registry, undefined, cluster?.hubName), filter));
}
