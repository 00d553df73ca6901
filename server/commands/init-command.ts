import type { Command } from 'commander';
import { TunnelError } from '../../shared/errors.js';
import { initHubState } from '../hub-state/init-hub-state.js';
import { joinCluster } from '../hub-state/join-cluster.js';
import { hubStateDir } from './hub-state-dir.js';
import { printText } from './write-output.js';

interface InitFlags {
  endpoint: string;
  pool?: string;
  registry?: string;
  hubName?: string;
}

/** `tunnel-hub init --endpoint ADDR [--pool CIDR] [--registry postgres://… --hub-name NAME]`. */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('create the state folder, signing key and registry (safe to run again); with --registry, join a cluster of hubs')
    .requiredOption('--endpoint <addr>', "the hub's public IPv4 address, which peers aim their tunnels at")
    .option('--pool <cidr>', 'a first address pool for link /30s, e.g. 10.1.12.0/24')
    .option('--registry <url>', 'a PostgreSQL URL shared by several hubs (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE); the first hub creates the schema')
    .option('--hub-name <name>', "this hub's name in the cluster (with --registry)")
    .action(async (flags: InitFlags, command: Command) => {
      if ((flags.registry === undefined) !== (flags.hubName === undefined)) {
        throw new TunnelError('ERR_INVALID_ARGUMENT', '--registry and --hub-name go together');
      }
      const dir = hubStateDir(command);
      if (flags.registry !== undefined && flags.hubName !== undefined) {
        const joined = await joinCluster(dir, { registry: flags.registry, hubName: flags.hubName, endpoint: flags.endpoint, ...(flags.pool ? { pool: flags.pool } : {}) });
        printText([
          `hub state in ${joined.paths.dir} (registry URL in ${joined.paths.cluster}, mode 0600)`,
          joined.joined ? `hub ${flags.hubName} joined the cluster` : `hub ${flags.hubName} was already in the cluster`,
          joined.createdKey ? 'created the cluster: schema and shared signing key' : 'uses the cluster\'s shared signing key',
          joined.changedEndpoint ? `endpoint changed to ${flags.endpoint}` : `endpoint ${flags.endpoint}`,
          `ssh host key ${joined.hostKeyFingerprint}`,
          ...(joined.addedPool ? [`added pool ${joined.addedPool}`] : flags.pool ? [`pool ${flags.pool} already present`] : []),
        ].join('\n'));
        return;
      }
      const result = await initHubState(dir, flags);
      const notes = [
        `hub state in ${result.paths.dir}`,
        result.createdKey ? 'created the signing key' : 'kept the existing signing key',
        result.changedEndpoint ? `endpoint set to ${flags.endpoint}` : `endpoint unchanged (${flags.endpoint})`,
      ];
      if (result.addedPool) notes.push(`added pool ${result.addedPool}`);
      else if (flags.pool) notes.push(`pool ${flags.pool} already present`);
      printText(notes.join('\n'));
    });
}
