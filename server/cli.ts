#!/usr/bin/env node
import { Command } from 'commander';
import { runCli } from '../shared/cli/run-cli.js';
import { PACKAGE_VERSION } from '../shared/package-version.js';
import { registerAdminTokenCommand } from './commands/admin-token-command.js';
import { registerBackupCommand } from './commands/backup-command.js';
import { acceptStateFolderAfterCommands } from './commands/hub-state-dir.js';
import { registerHubsCommand } from './commands/hubs-command.js';
import { registerInitCommand } from './commands/init-command.js';
import { registerInviteCommands } from './commands/invite-commands.js';
import { registerLinkCommands } from './commands/link-commands.js';
import { registerPeerCommands } from './commands/peer-commands.js';
import { registerPoolCommands } from './commands/pool-commands.js';
import { registerServeCommand } from './commands/serve.js';
import { registerStatusCommand } from './commands/status.js';

const program = new Command('tunnel-hub')
  .description('the hub members on changing addresses keep their tunnels to: it hands each link a /30, keeps both ends pointed at each other, and runs its own tunnel ends')
  .version(PACKAGE_VERSION, '-V, --version', 'print the version and exit')
  .option('--state <dir>', 'state folder (default: $TUNNEL_HUB_STATE, else /var/lib/tunnel-hub as root or as the user owning it, else ~/.local/state/tunnel-hub)')
  // `peer list --state up` and `status --state down` mean a peer's state: there the folder goes before the command.
  .enablePositionalOptions()
  // Set before the commands are added: subcommands copy this, so their usage errors reach runCli too.
  .exitOverride();

registerInitCommand(program);
registerPoolCommands(program);
registerPeerCommands(program);
registerInviteCommands(program);
registerLinkCommands(program);
registerServeCommand(program);
registerStatusCommand(program);
registerHubsCommand(program);
registerAdminTokenCommand(program);
registerBackupCommand(program);
acceptStateFolderAfterCommands(program);

await runCli(program);
