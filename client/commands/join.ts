import type { Command } from 'commander';
import { collectAdvertised } from './advertise-flag.js';
import { LOG_LEVEL_HELP } from '../../shared/log-levels.js';
import type { MemberFlags } from './member-command.js';

interface JoinFlags extends MemberFlags {
  token?: string;
  name?: string;
  key?: string;
  ca?: string;
}

/** Registers `tunnel-client join URL (--token T [--name N] | --key F) [--once]`; N defaults to the host name. */
export function registerJoinCommand(program: Command): void {
  program
    .command('join <url>')
    .description('join a hub (ws://HOST:PORT or wss://… with --token, ssh://NAME@HOST:PORT with --key), then stay connected')
    .option('--token <token>', 'an invite (`tunnel-hub invite create`) or a peer token (`tunnel-hub peer add NAME --token`)')
    .option('--name <name>', 'the peer name to register with an invite (default: this host\'s name, lower-cased, other characters made \'-\')')
    .option('--key <file>', 'the SSH private key registered with the hub (ssh:// only)')
    .option('--ca <file>', 'a CA certificate (PEM) to trust for wss://')
    .option('--once', 'return once the tunnel config is applied instead of staying connected')
    .option('--state <dir>', 'state folder (default: $TUNNEL_CLIENT_STATE, else /var/lib/tunnel-client as root or as the user owning it, else ~/.local/state/tunnel-client)')
    .option('--advertise <cidr>', 'a prefix behind this member (its LAN) to ask the hub to route; pending until the operator approves it; repeatable', collectAdvertised)
    .option('--hook <file>', 'program run with the TUNNEL_* environment when a tunnel goes up, goes down or changes (killed after 10 s)')
    .option('--metrics <addr:port>', 'serve Prometheus metrics of the tunnels at http://ADDR:PORT/metrics, e.g. 127.0.0.1:9471')
    .option('--log-level <level>', LOG_LEVEL_HELP)
    // The session and datapath modules load only when this command runs.
    .action(async (url: string, flags: JoinFlags) => (await import('./member-command.js')).runMemberCommand(flags, {
      url,
      ...(flags.token !== undefined ? { token: flags.token } : {}),
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      ...(flags.key !== undefined ? { keyFile: flags.key } : {}),
      ...(flags.ca !== undefined ? { caFile: flags.ca } : {}),
    }));
}

