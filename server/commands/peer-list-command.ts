import type { Command } from 'commander';
import { peerListReport } from '../hub/peer-list-report.js';
import { PEER_FILTER_HELP, PEER_STATE_HELP, isPeerFilterSet, parsePeerFilterOptions } from './cli-option-parsers.js';
import { formatColumns } from './format-columns.js';
import { hubStateDir } from './hub-state-dir.js';
import { printJson, printText } from './write-output.js';

/**
 * `tunnel-hub peer list [--state up|down] [--filter TEXT] [--json]`, apart from the other peer
 * commands: a run of `peer list` loads this file and not theirs (config renderers, tokens, SSH keys).
 */
export function registerPeerListCommand(peer: Command): void {
  peer
    .command('list')
    .description('list peers with their state, hub link address and last known public address')
    .option('--state <state>', PEER_STATE_HELP)
    .option('--filter <text>', PEER_FILTER_HELP)
    .option('--json', 'print JSON only')
    .action(async (options: { state?: string; filter?: string; json?: boolean }, command: Command) => {
      const filter = parsePeerFilterOptions(options);
      const peers = await peerListReport(hubStateDir(command), filter);
      if (options.json) return printJson(peers);
      printText(formatColumns(
        ['NAME', 'STATE', 'HUB LINK', 'ADDRESS', 'PUBLIC', 'SSH KEYS', 'LINKS'],
        peers.map((p) => [p.name, p.state, p.prefix, p.inner, p.public ?? '-', String(p.sshKeys), String(p.links)]),
        isPeerFilterSet(filter) ? 'no peer matches --state/--filter' : 'no peers; add one with `tunnel-hub peer add NAME`',
      ));
    });
}
