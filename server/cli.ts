#!/usr/bin/env node
import { Command } from 'commander';
import { runCli } from '../shared/cli/run-cli.js';
import { registerInitCommand } from './commands/init-command.js';
import { registerInviteCommands } from './commands/invite-commands.js';
import { registerLinkCommands } from './commands/link-commands.js';
import { registerPeerCommands } from './commands/peer-commands.js';
import { registerPeerRouteCommands } from './commands/peer-route-commands.js';
import { registerPoolCommands } from './commands/pool-commands.js';
import { registerServeCommand } from './commands/serve.js';
import { registerStatusCommand } from './commands/status.js';

const program = new Command('tunnel-hub')
  .description('the hub of a dynamic-endpoint tunnel mesh: registry of peers, /30 links and tokens')
  .option('--state <dir>', 'state folder (default: $TUNNEL_HUB_STATE, else /var/lib/tunnel-hub as root, else ~/.local/state/tunnel-hub)')
  // Set before the commands are added: subcommands copy this, so their usage errors reach runCli too.
  .exitOverride();

registerInitCommand(program);
registerPoolCommands(program);
registerPeerCommands(program);
registerPeerRouteCommands(program);
registerInviteCommands(program);
registerLinkCommands(program);
registerServeCommand(program);
registerStatusCommand(program);

await runCli(program);
