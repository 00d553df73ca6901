import type { Command } from 'commander';
import { resolveStateDir } from '../../shared/cli/state-dir.js';
import { collectStatus } from '../status/collect-status.js';
import { formatStatusTable } from '../status/format-status-table.js';

/** Registers `tunnel-client status [--json]`: every tunnel of every running client process. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('list the running tunnels with their state and counters')
    .option('--json', 'print JSON only: { "tunnels": [ … ] }')
    .option('--state <dir>', 'state folder (default: $TUNNEL_CLIENT_STATE, else /var/lib/tunnel-client as root or as the user owning it, else ~/.local/state/tunnel-client)')
    .action(async (flags: { json?: boolean; state?: string }) => {
      const { tunnels, unreachable } = await collectStatus(resolveStateDir('client', flags.state));
      for (const process_ of unreachable) process.stderr.write(`tunnel-client: warning: ${process_.path} did not answer (${process_.error})\n`);
      process.stdout.write(flags.json ? `${JSON.stringify({ tunnels }, null, 2)}\n` : formatStatusTable(tunnels));
    });
}
