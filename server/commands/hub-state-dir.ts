import type { Command } from 'commander';
import { resolveStateDir } from '../../shared/cli/state-dir.js';

/** The hub state folder for a command: the global `--state`, else the environment or default. */
export function hubStateDir(command: Command): string {
  return resolveStateDir('hub', command.optsWithGlobals<{ state?: string }>().state);
}
