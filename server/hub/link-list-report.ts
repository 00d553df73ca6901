import { withHubState } from '../hub-state/hub-state.js';
import { linkListEntries, type LinkListEntry } from '../commands/link-list-view.js';
import { readStatusSocket, statusSocketPath } from './status-socket.js';

/**
 * `link list`: the peer<->peer links from the registry, each shortcut with the rate the running
 * hub measures across it (asked on the status socket; null when no hub runs or it keeps none).
 */
export async function linkListReport(stateDir: string): Promise<LinkListEntry[]> {
  return withHubState(stateDir, async ({ registry, clock }) => {
    const [links, rates] = await Promise.all([registry.links.list({ peerLinksOnly: true }), liveRates(stateDir)]);
    return linkListEntries(links, clock(), rates);
  });
}

/** The running hub's shortcut rates by link id (none when no hub runs, or one too old to be asked). */
async function liveRates(stateDir: string): Promise<ReadonlyMap<number, number>> {
  let answer: { shortcuts?: { linkId: number; rate: number }[] } | undefined;
  try {
    answer = await readStatusSocket(statusSocketPath(stateDir), { view: 'shortcuts' }) as typeof answer;
  } catch {
    // A hub that does not know the request refuses it: the links are listed without rates.
    return new Map();
  }
  return new Map((answer?.shortcuts ?? []).map(({ linkId, rate }) => [linkId, rate]));
}
