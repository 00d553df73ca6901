import type { Command } from 'commander';
import { resolveStateDir } from '../../shared/cli/state-dir.js';

/** The hub state folder for a command: the global `--state`, else the environment or default. */
export function hubStateDir(command: Command): string {
  // The program's own option: `peer list` and `status` have a `--state` of their own (up|down).
  let program = command;
  while (program.parent) program = program.parent;
  return resolveStateDir('hub', program.opts<{ state?: string }>().state);
}
