import type { HubStatus } from './hub-status.js';
import { filterHubStatus, type PeerFilter } from './peer-filter.js';
import { parseStatusAnswer, readStatusSocketText, statusSocketPath } from './status-socket.js';

/**
 * The status of the hub in `stateDir`, with the peers `filter` selects: from the running `serve`
 * when there is one (which filters before it writes), else from the registry. When the running
 * hub's answer needs no filtering here and is longer than `rawAbove` characters, that answer as
 * the hub wrote it (one JSON line): what `status --json` prints then, without a parse and a
 * stringify of megabytes that would give the same line.
 */
export async function hubStatusDocument(stateDir: string, filter: PeerFilter, rawAbove: number): Promise<{ status: HubStatus } | { text: string }> {
  const path = statusSocketPath(stateDir);
  const text = await readStatusSocketText(path, { view: 'status', filter });
  // A refusal, and a line cut short (it lacks the newline), are parsed and refused below.
  const asWritten = text !== undefined && text.length > rawAbove && text.endsWith('\n') && !text.startsWith('{"error"');
  if (asWritten && filter.state === undefined && filter.text === undefined) return { text };
  // Filtered here too: a hub started before the socket took requests sends every peer.
  if (text !== undefined) return { status: filterHubStatus(parseStatusAnswer(path, text) as HubStatus, filter) };
  // Loaded only without a running hub: the registry is most of what `status` would load.
  const [{ withHubState }, { buildHubStatus }] = await Promise.all([import('../hub-state/hub-state.js'), import('./hub-status.js')]);
  return { status: await withHubState(stateDir, async ({ registry, cluster }) => filterHubStatus(await buildHubStatus(registry, undefined, cluster?.hubName), filter)) };
}
