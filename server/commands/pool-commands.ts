import type { Command } from 'commander';
import { withHubState } from '../hub-state/hub-state.js';
import { formatColumns } from './format-columns.js';
import { hubStateDir } from './hub-state-dir.js';
import { printJson, printText } from './write-output.js';

/** `tunnel-hub pool add|list|remove`. */
export function registerPoolCommands(program: Command): void {
  const pool = program.command('pool').description('address pools that link /30s are taken from, in the order added');

  pool
    .command('add <cidr>')
    .description('add a pool (a network such as 10.1.12.0/24, not overlapping another pool)')
    .action((cidr: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const added = await registry.pools.add(cidr);
        printText(`added pool ${added.cidr} (${added.subnets} link /30s)`);
      }));

  pool
    .command('list')
    .description('list pools with their use')
    .option('--json', 'print JSON only')
    .action((options: { json?: boolean }, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const pools = (await registry.pools.list()).map(({ cidr, subnets, used, createdAt }) => ({ cidr, subnets, used, free: subnets - used, createdAt }));
        if (options.json) return printJson(pools);
        printText(formatColumns(['POOL', 'LINK /30s', 'USED', 'FREE'], pools.map((p) => [p.cidr, String(p.subnets), String(p.used), String(p.free)]), 'no pools; add one with `tunnel-hub pool add CIDR`'));
      }));

  pool
    .command('remove <cidr>')
    .description('remove a pool that no link uses')
    .action((cidr: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        await registry.pools.remove(cidr);
        printText(`removed pool ${cidr}`);
      }));
}
