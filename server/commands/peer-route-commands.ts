import type { Command } from 'commander';
import { withHubState } from '../hub-state/hub-state.js';
import { formatColumns } from './format-columns.js';
import { hubStateDir } from './hub-state-dir.js';
import { printJson, printText } from './write-output.js';

/** `tunnel-hub peer route add|remove|approve|list` (`peer set NAME --source-check` is in router-peer-commands.ts). */
export function registerPeerRouteCommands(peer: Command): void {
  const route = peer.command('route').description('prefixes behind members (a LAN), routed by the hub and pushed to every other member');
  const live = 'a running hub routes it and pushes it to every member within a second';

  route
    .command('add <name> <cidr>')
    .description(`route CIDR behind member NAME (approves its pending request for it, if any); ${live}`)
    .action((name: string, cidr: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const added = await registry.routing.add(name, cidr);
        printText(`routing ${added.prefix} behind ${name}`);
      }));

  route
    .command('approve <name> <cidr>')
    .description(`approve the prefix member NAME advertised (\`tunnel-client … --advertise CIDR\`); ${live}`)
    .action((name: string, cidr: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const approved = await registry.routing.approve(name, cidr);
        printText(`approved: routing ${approved.prefix} behind ${name}`);
      }));

  route
    .command('remove <name> <cidr>')
    .description('stop routing CIDR behind member NAME, or drop its request for it; members lose the route within a second')
    .action((name: string, cidr: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const removed = await registry.routing.remove(name, cidr);
        printText(removed.state === 'approved' ? `no longer routing ${removed.prefix} behind ${name}` : `dropped ${name}'s request for ${removed.prefix}`);
      }));

  route
    .command('list')
    .description('list the prefixes behind members, approved and pending')
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const routes = await registry.routing.list();
        if (options.json) return printJson(routes);
        printText(formatColumns(
          ['PEER', 'PREFIX', 'STATE', 'SINCE'],
          routes.map((r) => [r.peer, r.prefix, r.state, new Date(r.approvedAt ?? r.requestedAt ?? r.createdAt).toISOString()]),
          'no prefixes behind members; add one with `tunnel-hub peer route add NAME CIDR`',
        ));
      }));
}
