import { readClientState } from '../client-state.js';

/** The hub serving this member, for `status --json`'s top-level `hub` (members of a cluster only). */
export interface ClusterHubStatus {
  name: string;
  url: string;
}

/**
 * Which hub of its cluster the member is on, as the running client last recorded it (the config
 * it applied names the serving hub; the state file, the URL it dials). Undefined for a member of
 * a hub that runs alone, or before any join.
 */
export function clusterHubStatus(stateDir: string): ClusterHubStatus | undefined {
  const state = readClientState(stateDir);
  const hub = state?.config?.cluster?.hub;
  return state && hub !== undefined ? { name: hub, url: state.hub.url } : undefined;
}
