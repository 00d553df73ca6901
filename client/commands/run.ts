import type { Command } from 'commander';
import { collectAdvertised } from './advertise-flag.js';
import { LOG_LEVEL_HELP } from '../../shared/log-levels.js';
import type { MemberFlags } from './member-command.js';

/** Registers `tunnel-client run`: resume from the state folder, keep the tunnels up. */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('after a join: bring the tunnel(s) up and keep them up across address changes and hub restarts')
    .option('--once', 'return once the tunnel config is applied')
    .option('--state <dir>', 'state folder (default: $TUNNEL_CLIENT_STATE, else /var/lib/tunnel-client as root or as the user owning it, else ~/.local/state/tunnel-client)')
    .option('--advertise <cidr>', 'a prefix behind this member (its LAN) to ask the hub to route; pending until the operator approves it; repeatable', collectAdvertised)
    .option('--hook <file>', 'program run with the TUNNEL_* environment when a tunnel goes up, goes down or changes (killed after 10 s)')
    .option('--metrics <addr:port>', 'serve Prometheus metrics of the tunnels at http://ADDR:PORT/metrics, e.g. 127.0.0.1:9471')
    .option('--log-level <level>', LOG_LEVEL_HELP)
    // The session and datapath modules load only when this command runs.
    .action(async (flags: MemberFlags) => (await import('./member-command.js')).runMemberCommand(flags));
}
