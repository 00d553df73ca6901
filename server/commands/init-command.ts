import type { Command } from 'commander';
import { initHubState } from '../hub-state/init-hub-state.js';
import { hubStateDir } from './hub-state-dir.js';
import { printText } from './write-output.js';

/** `tunnel-hub init --endpoint ADDR [--pool CIDR]`. */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('create the state folder, signing key and registry (safe to run again)')
    .requiredOption('--endpoint <addr>', "the hub's public IPv4 address, which peers aim their tunnels at")
    .option('--pool <cidr>', 'a first address pool for link /30s, e.g. 10.1.12.0/24')
    .action(async (options: { endpoint: string; pool?: string }, command: Command) => {
      const result = await initHubState(hubStateDir(command), options);
      const notes = [
        `hub state in ${result.paths.dir}`,
        result.createdKey ? 'created the signing key' : 'kept the existing signing key',
        result.changedEndpoint ? `endpoint set to ${options.endpoint}` : `endpoint unchanged (${options.endpoint})`,
      ];
      if (result.addedPool) notes.push(`added pool ${result.addedPool}`);
      else if (options.pool) notes.push(`pool ${options.pool} already present`);
      printText(notes.join('\n'));
    });
}
