import type { Command } from 'commander';
import { withHubState } from '../hub-state/hub-state.js';
import { HUB_FRESH_MS } from '../hub/cluster-membership.js';
import { formatColumns } from './format-columns.js';
import { hubStateDir } from './hub-state-dir.js';
import { printJson, printText } from './write-output.js';

/** `tunnel-hub hubs [--json]`: the hubs of this hub's cluster. */
export function registerHubsCommand(program: Command): void {
  program
    .command('hubs')
    .description(`the hubs of the cluster: name, endpoint, state (up while its heartbeat is under ${HUB_FRESH_MS / 1000} s old), members served, last heartbeat`)
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const hubs = (await registry.hubs.list(HUB_FRESH_MS)).map((hub) => ({
          ...hub,
          lastHeartbeat: hub.lastHeartbeat === null ? null : new Date(hub.lastHeartbeat).toISOString(),
          startedAt: hub.startedAt === null ? null : new Date(hub.startedAt).toISOString(),
        }));
        if (options.json) return printJson(hubs);
        printText(formatColumns(
          ['NAME', 'ENDPOINT', 'STATE', 'MEMBERS', 'LAST HEARTBEAT', 'HOST KEY'],
          hubs.map((hub) => [hub.name, hub.endpoint, hub.state, String(hub.members), hub.lastHeartbeat ?? '-', hub.hostKeyFingerprint]),
          'no hubs: this hub runs alone; `tunnel-hub init --registry postgres://… --hub-name NAME --endpoint ADDR` starts a cluster',
        ));
      }));
}
