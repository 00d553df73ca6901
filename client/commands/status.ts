import type { Command } from 'commander';
import { resolveStateDir } from '../../shared/cli/state-dir.js';
import { PACKAGE_VERSION } from '../../shared/package-version.js';
import { clusterHubStatus } from '../status/cluster-hub-status.js';
import { collectStatus } from '../status/collect-status.js';
import { formatStatusTable } from '../status/format-status-table.js';

/** Registers `tunnel-client status [--json]`: every tunnel of every running client process. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('list the running tunnels with their state and counters')
    .option('--json', 'print JSON only: { "version": …, "tunnels": [ … ] }')
    .option('--state <dir>', 'state folder (default: $TUNNEL_CLIENT_STATE, else /var/lib/tunnel-client as root or as the user owning it, else ~/.local/state/tunnel-client)')
    .action(async (flags: { json?: boolean; state?: string }) => {
      const stateDir = resolveStateDir('client', flags.state);
      const { tunnels, unreachable } = await collectStatus(stateDir);
      const hub = clusterHubStatus(stateDir);
      for (const process_ of unreachable) process.stderr.write(`tunnel-client: warning: ${process_.path} did not answer (${process_.error})\n`);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ version: PACKAGE_VERSION, ...(hub ? { hub } : {}), tunnels }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${hub ? `hub ${hub.name} (${hub.url})\n\n` : ''}${formatStatusTable(tunnels)}`);
    });
}
