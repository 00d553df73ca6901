import type { Command } from 'commander';
import { withHubState } from '../hub-state/hub-state.js';
import { HUB_FRESH_MS } from '../hub/cluster-membership.js';
import { describeHubLinkEncap } from './describe-hub-link-encap.js';
import { formatColumns } from './format-columns.js';
import { registerHubLinkCommand } from './hub-link-command.js';
import { hubStateDir } from './hub-state-dir.js';
import { printJson, printText } from './write-output.js';

/**
 * `tunnel-hub hubs [--json]`: the hubs of this hub's cluster, each with the encapsulation of the
 * link between this hub and it (`link`: null for this hub itself, or while no link exists);
 * `tunnel-hub hubs link` pins or frees that encapsulation.
 */
export function registerHubsCommand(program: Command): void {
  const hubsCommand = program
    .command('hubs')
    .description(`the hubs of the cluster: name, endpoint, state (up while its heartbeat is under ${HUB_FRESH_MS / 1000} s old), members served, last heartbeat, this hub's link to it`)
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry, cluster }) => {
        const links = await registry.hubLinks.list();
        const linkTo = (name: string) => {
          const link = cluster && name !== cluster.hubName ? links.find((l) => l.hubs.includes(cluster.hubName) && l.hubs.includes(name)) : undefined;
          return link ? { encap: link.encap, reason: link.encapReason, pinned: link.pinned } : null;
        };
        const hubs = (await registry.hubs.list(HUB_FRESH_MS)).map((hub) => ({
          ...hub,
          lastHeartbeat: hub.lastHeartbeat === null ? null : new Date(hub.lastHeartbeat).toISOString(),
          startedAt: hub.startedAt === null ? null : new Date(hub.startedAt).toISOString(),
          link: linkTo(hub.name),
        }));
        if (options.json) return printJson(hubs);
        printText(formatColumns(
          ['NAME', 'ENDPOINT', 'STATE', 'MEMBERS', 'LAST HEARTBEAT', 'LINK', 'HOST KEY'],
          hubs.map((hub) => [hub.name, hub.endpoint, hub.state, String(hub.members), hub.lastHeartbeat ?? '-',
            hub.link ? describeHubLinkEncap({ encap: hub.link.encap, encapReason: hub.link.reason, pinned: hub.link.pinned }) : '-', hub.hostKeyFingerprint]),
          'no hubs: this hub runs alone; `tunnel-hub init --registry postgres://… --hub-name NAME --endpoint ADDR` starts a cluster',
        ));
      }));
  registerHubLinkCommand(hubsCommand);
}
