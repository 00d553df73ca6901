#!/usr/bin/env node
import { Command } from 'commander';
import { runCli } from '../shared/cli/run-cli.js';
import { PACKAGE_VERSION } from '../shared/package-version.js';
import { acceptStateFolderAfterCommands } from './commands/hub-state-dir.js';
import { requestedCommand } from './commands/requested-command.js';

type Register = (program: Command) => void;

/**
 * Each top-level command, in the order `--help` lists them, and how to load the module that adds
 * it (given the word after the command): a run imports the one it needs, as most of the start is
 * spent loading modules (the registry, zod, the control plane), and `status` and `peer list` at
 * thousands of peers have none of that to spare.
 */
const COMMANDS: Record<string, (sub?: string) => Promise<Register>> = {
  init: async () => (await import('./commands/init-command.js')).registerInitCommand,
  pool: async () => (await import('./commands/pool-commands.js')).registerPoolCommands,
  peer: async (sub) => {
    if (sub !== 'list') return (await import('./commands/peer-commands.js')).registerPeerCommands;
    const [{ addPeerGroup }, { registerPeerListCommand }] = await Promise.all([import('./commands/peer-group.js'), import('./commands/peer-list-command.js')]);
    return (program) => registerPeerListCommand(addPeerGroup(program));
  },
  invite: async () => (await import('./commands/invite-commands.js')).registerInviteCommands,
  link: async () => (await import('./commands/link-commands.js')).registerLinkCommands,
  serve: async () => (await import('./commands/serve.js')).registerServeCommand,
  status: async () => (await import('./commands/status.js')).registerStatusCommand,
  hubs: async () => (await import('./commands/hubs-command.js')).registerHubsCommand,
  'admin-token': async () => (await import('./commands/admin-token-command.js')).registerAdminTokenCommand,
  backup: async () => (await import('./commands/backup-command.js')).registerBackupCommand,
};

const program = new Command('tunnel-hub')
  .description('the hub members on changing addresses keep their tunnels to: it hands each link a /30, keeps both ends pointed at each other, and runs its own tunnel ends')
  .version(PACKAGE_VERSION, '-V, --version', 'print the version and exit')
  .option('--state <dir>', 'state folder (default: $TUNNEL_HUB_STATE, else /var/lib/tunnel-hub as root or as the user owning it, else ~/.local/state/tunnel-hub)')
  // `peer list --state up` and `status --state down` mean a peer's state: there the folder goes before the command.
  .enablePositionalOptions()
  // Set before the commands are added: subcommands copy this, so their usage errors reach runCli too.
  .exitOverride();

const [wanted, sub] = requestedCommand(process.argv.slice(2), Object.keys(COMMANDS)) ?? [];
const loaders = wanted === undefined ? Object.values(COMMANDS) : [COMMANDS[wanted] as (sub?: string) => Promise<Register>];
for (const register of await Promise.all(loaders.map((load) => load(sub)))) register(program);
acceptStateFolderAfterCommands(program);

await runCli(program);
