import type { Command } from 'commander';
import { withHubState } from '../hub-state/hub-state.js';
import { formatBitRate } from '../shortcuts/bit-rate.js';
import { formatColumns } from './format-columns.js';
import { linkListReport } from '../hub/link-list-report.js';
import { formatAge } from './link-list-view.js';
import { hubStateDir } from './hub-state-dir.js';
import { printJson, printText } from './write-output.js';

/** `tunnel-hub link add|list|remove`: peer<->peer links. */
export function registerLinkCommands(program: Command): void {
  const link = program.command('link').description('peer<->peer links, each with its own /30');

  link
    .command('add <a> <b>')
    .description('link two peers; A gets the lower address of the new /30')
    .action((a: string, b: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const added = await registry.links.addPeerLink(a, b);
        printText(`linked ${a} <-> ${b}: ${added.prefix} (${a} ${added.inner[0]}, ${b} ${added.inner[1]}), key ${added.greKey}`);
      }));

  link
    .command('list')
    .description("list peer<->peer links: the operator's (link add) and shortcuts the hub made for busy pairs, with why, age and rate (- until a running hub reports one)")
    .option('--json', 'print JSON only (age in seconds; rate in bit/s, or none until a running hub reports one)')
    .action((options: { json?: boolean }, command: Command) =>
      linkListReport(hubStateDir(command)).then((links) => {
        if (options.json) return printJson(links);
        printText(formatColumns(
          ['A', 'B', 'PREFIX', 'A ADDRESS', 'B ADDRESS', 'KEY', 'KIND', 'AGE', 'RATE', 'WHY'],
          links.map((l) => [l.ends[0], l.ends[1], l.prefix, l.inner[0], l.inner[1], String(l.greKey), l.kind, formatAge(l.age),
            l.rate === null ? '-' : formatBitRate(l.rate), l.why ?? '-']),
          'no peer links; add one with `tunnel-hub link add A B`',
        ));
      }));

  link
    .command('remove <a> <b>')
    .description('remove the link between two peers, an operator\'s or a shortcut; its /30 goes back to the pool')
    .action((a: string, b: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const removed = await registry.links.removePeerLink(a, b);
        printText(`removed link ${removed.ends[0]} <-> ${removed.ends[1]}; released ${removed.prefix}`);
      }));
}
