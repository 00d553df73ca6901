import type { Command } from 'commander';
import { resolveStateDir } from '../../shared/cli/state-dir.js';

/** What `--state` says after a command that has no `--state` of its own. */
const STATE_FOLDER_HELP = 'state folder (as --state before the command)';

/**
 * The hub state folder for a command: its own `--state DIR` when given after the command, else
 * the program's (before the command), else the environment or default. `peer list` and `status`
 * have a `--state up|down` of their own, so there the folder goes before the command.
 */
export function hubStateDir(command: Command): string {
  const own = command.opts<{ state?: string }>().state;
  let program = command;
  while (program.parent) program = program.parent;
  const folderAfter = command !== program && takesStateFolder(command) ? own : undefined;
  return resolveStateDir('hub', folderAfter ?? program.opts<{ state?: string }>().state);
}

/**
 * Gives every command without a `--state` of its own the folder's `--state` after it too, as
 * `tunnel-hub serve --state DIR` has always worked; call after every command is registered.
 */
export function acceptStateFolderAfterCommands(program: Command): void {
  for (const command of program.commands) {
    if (command.commands.length > 0) acceptStateFolderAfterCommands(command);
    else if (!command.options.some((option) => option.long === '--state')) command.option('--state <dir>', STATE_FOLDER_HELP);
  }
}

function takesStateFolder(command: Command): boolean {
  return command.options.some((option) => option.long === '--state' && option.description === STATE_FOLDER_HELP);
}
