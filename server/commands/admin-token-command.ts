import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { TunnelError } from '../../shared/errors.js';
import { loadOrCreateAdminToken } from '../admin/admin-token.js';
import { hubStatePaths } from '../hub-state/hub-state-paths.js';
import { hubStateDir } from './hub-state-dir.js';
import { printText } from './write-output.js';

/** `tunnel-hub admin-token [--rotate]`. */
export function registerAdminTokenCommand(program: Command): void {
  program
    .command('admin-token')
    .description('print the token the status page and /metrics ask for when serve listens for them off loopback (--admin-listen); open http://ADDR:PORT/?token=TOKEN once, or scrape with Authorization: Bearer TOKEN')
    .option('--rotate', 'replace the token (a running hub takes the new one at once; the old one stops working)')
    .action((options: { rotate?: boolean }, command: Command) => {
      const dir = hubStateDir(command);
      if (!existsSync(hubStatePaths(dir).database)) {
        throw new TunnelError('ERR_NOT_INITIALIZED', `no hub state in ${dir}; run \`tunnel-hub init --endpoint ADDR\` first (or pass --state DIR)`);
      }
      printText(loadOrCreateAdminToken(dir, { rotate: options.rotate === true }));
    });
}
