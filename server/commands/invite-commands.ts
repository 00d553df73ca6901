import type { Command } from 'commander';
import { createInvite } from '../hub-state/create-invite.js';
import { withHubState } from '../hub-state/hub-state.js';
import { parseDuration, parsePositiveInteger } from './cli-option-parsers.js';
import { hubStateDir } from './hub-state-dir.js';
import { printText } from './write-output.js';

/** `tunnel-hub invite create`. */
export function registerInviteCommands(program: Command): void {
  const invite = program.command('invite').description('invites: signed tokens a new peer joins with');

  invite
    .command('create')
    .description('print a new invite token on stdout, alone')
    .option('--expires <duration>', 'how long the invite stays valid, e.g. 30m, 24h, 7d', '24h')
    .option('--uses <n>', 'how many peers may join with it', '1')
    .option('--pool <cidr>', 'take the joining peers\' /30s from this pool only')
    .action((options: { expires: string; uses: string; pool?: string }, command: Command) => {
      const ttlMs = parseDuration(options.expires, '--expires');
      const uses = parsePositiveInteger(options.uses, '--uses');
      return withHubState(hubStateDir(command), async (state) => {
        const { token } = await createInvite(state, { ttlMs, uses, ...(options.pool === undefined ? {} : { pool: options.pool }) });
        printText(token);
      });
    });
}
