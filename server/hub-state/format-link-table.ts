import { perspectiveOf } from '../../shared/kernel-config/link-table.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import type { LinkTable } from '../registry/link-table.js';

/**
 * The two-column table community meshes exchange ("My end / The other end") for the end named `myName`:
 * public addresses, addresses on the /30 and interface names, then the link's parameters.
 */
export function formatLinkTable(table: LinkTable, myName: string): string {
  const { mine, theirs } = perspectiveOf(table, myName);
  const rows: [string, string, string][] = [
    ['', 'My end', 'The other end'],
    ['Name', mine.name, theirs.name],
    ['Public IP address', mine.public ?? '(not known yet)', theirs.public ?? '(not known yet)'],
    [`Address on the /30`, mine.inner, theirs.inner],
    ['Interface name', tunnelInterfaceName(theirs.name), tunnelInterfaceName(mine.name)],
  ];
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  const lines = rows.map(([label, a, b]) => `${label.padEnd(widths[0] ?? 0)}   ${a.padEnd(widths[1] ?? 0)}   ${b}`.trimEnd());
  const key = table.key === null ? '' : `, key ${table.key}`;
  lines.push('', `Link ${table.prefix}: ${table.encap}${key}, mtu ${table.mtu}`);
  return `${lines.join('\n')}\n`;
}
