import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { HUB_STATE_FOLDER } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';
import { withHubState } from '../hub-state/hub-state.js';
import { hubStatePaths } from '../hub-state/hub-state-paths.js';
import { hubStateDir } from './hub-state-dir.js';
import { printNote } from './write-output.js';

/** `tunnel-hub backup FILE`. */
export function registerBackupCommand(program: Command): void {
  program
    .command('backup <file>')
    .description('copy the registry (peers, keys, links, /30s, invites) into FILE, consistent even while serve runs; the README says how to restore it')
    .action((file: string, _options: unknown, command: Command) => {
      const dir = hubStateDir(command);
      const target = resolve(file);
      if (!existsSync(dirname(target)) || !statSync(dirname(target)).isDirectory()) {
        throw new TunnelError('ERR_INVALID_ARGUMENT', `${dirname(target)} is not a folder; create it first`);
      }
      const live = hubStatePaths(dir).database;
      if (target === live || target.startsWith(`${live}-`)) {
        throw new TunnelError('ERR_INVALID_ARGUMENT', `${target} is the registry itself; back it up into another file`);
      }
      return withHubState(dir, async (state) => {
        await state.registry.backup(target);
        printNote(`registry backed up to ${target}; keep the state folder's keys (${HUB_STATE_FOLDER.signingKey.name}, ${HUB_STATE_FOLDER.sshHostKey.name}) beside it`);
      });
    });
}
