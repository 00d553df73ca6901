import { withHubState } from '../hub-state/hub-state.js';
import { buildHubStatus, type HubStatus } from './hub-status.js';
import { readStatusSocket, statusSocketPath } from './status-socket.js';

/** The status of the hub in `stateDir`: from the running `serve` when there is one, else from the registry. */
export async function hubStatusReport(stateDir: string): Promise<HubStatus> {
  const live = await readStatusSocket(statusSocketPath(stateDir));
  if (live !== undefined) return live as HubStatus;
  return withHubState(stateDir, ({ registry, cluster }) => buildHubStatus(registry, undefined, cluster?.hubName));
}
