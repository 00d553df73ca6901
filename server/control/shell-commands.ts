import { TunnelError, isTunnelError } from '../../shared/errors.js';
import { KERNEL_CONFIG_TARGETS, isKernelConfigTarget, renderPeerConfig } from '../../shared/kernel-config/render-peer-config.js';
import { canonicalOuterAddress, outerFamilyOf } from '../../shared/datapath/outer-address.js';
import { formatLinkTable } from '../hub-state/format-link-table.js';
import type { LinkEspKeys } from '../../shared/kernel-config/link-esp-keys.js';
import type { LinkTable } from '../registry/link-table.js';

/** What the shell commands may do on behalf of the authenticated peer. */
export interface ShellCommandContext {
  /** The peer the SSH key authenticated. */
  peer: string;
  /** The address the SSH connection comes from: the only address the hub accepts as verified. */
  remoteAddress: string;
  /** The tables of every link the peer is an end of, hub link first (as `peer table --json` prints them). */
  tables(): Promise<LinkTable[]>;
  /**
   * What `config` renders: the tables, each encrypted link as it runs in ESP, and the peer's SAs
   * beside each (server/hub-state/router-link-keys.ts); absent: the tables, in the clear.
   */
  keyedTables?(): Promise<{ tables: LinkTable[]; esp: (LinkEspKeys | undefined)[] }>;
  /** Records `seen` as the peer's endpoint and reconfigures the hub's end and linked members, live. */
  reportEndpoint(seen: string): Promise<void>;
  /** The hub's dyndns2 URL, for the OpenWrt update hook `config openwrt` prints. */
  dyndnsUrl?: string;
}

/** What one command printed and its exit status. */
export interface ShellCommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The commands a stock `ssh NAME@HUB COMMAND` may run (besides the protocol channel). */
export const SHELL_USAGE = `endpoint [ADDR] [--json] | table [--json] | config ${KERNEL_CONFIG_TARGETS.join('|')}`;

/** Longest command line accepted. */
const MAX_COMMAND = 256;

/**
 * Runs one shell command for a router that has only an SSH client:
 * - `table [--json]`: every link's /30 table from this peer's side (JSON: an array, hub link
 *   first; its first element is exactly what `tunnel-hub peer table NAME --json` prints);
 * - `endpoint [ADDR] [--json]`: reports this end's address, then prints the new tables. The hub
 *   takes the address the connection comes from; an ADDR other than that is refused
 *   (ERR_ENDPOINT_UNVERIFIED) and nothing changes, since the hub has no proof the peer is there;
 * - `config linux|freebsd|openbsd|netbsd|openwrt|routeros|qnx`: the commands for each link
 *   (shared/kernel-config); a hub link the target cannot carry is a coded refusal naming the fix,
 *   a peer link that cannot be rendered says why in a comment line.
 * Errors print one `CODE: message` line on stderr: exit 2 for usage, 1 for a refusal.
 */
export async function runShellCommand(commandLine: string, ctx: ShellCommandContext): Promise<ShellCommandResult> {
  try {
    if (commandLine.length > MAX_COMMAND) throw usage(`command longer than ${MAX_COMMAND} characters`);
    const words = commandLine.trim().split(/\s+/).filter((word) => word !== '');
    const [verb, ...rest] = words;
    const json = rest.includes('--json');
    const args = rest.filter((word) => word !== '--json');
    switch (verb) {
      case 'table':
        if (args.length > 0) throw usage(`table takes no arguments besides --json, not "${clip(args[0])}"`);
        return await printTables(ctx, json);
      case 'endpoint': {
        if (args.length > 1) throw usage('endpoint takes at most one address');
        const given = args[0];
        if (given !== undefined && outerFamilyOf(given) === null) {
          throw new TunnelError('ERR_INVALID_ADDRESS', `"${clip(given)}" is not an IPv4 or IPv6 address`);
        }
        const claimed = given === undefined ? undefined : canonicalOuterAddress(given);
        if (claimed !== undefined && claimed !== ctx.remoteAddress) {
          throw new TunnelError('ERR_ENDPOINT_UNVERIFIED', `${claimed} is not the address this connection comes from (${ctx.remoteAddress}); the hub only takes an address it sees: run the command from ${claimed}, or leave ADDR out`);
        }
        await ctx.reportEndpoint(ctx.remoteAddress);
        return await printTables(ctx, json);
      }
      case 'config': {
        const target = args[0];
        if (args.length !== 1 || !isKernelConfigTarget(target) || json) {
          throw usage(`config takes one of ${KERNEL_CONFIG_TARGETS.join(', ')}`);
        }
        const keyed = ctx.keyedTables ? await ctx.keyedTables() : { tables: await ctx.tables(), esp: [] };
        const stdout = renderPeerConfig(keyed.tables, ctx.peer, target, { ...(ctx.dyndnsUrl === undefined ? {} : { dyndnsUrl: ctx.dyndnsUrl }), esp: keyed.esp });
        return { stdout, stderr: '', exitCode: 0 };
      }
      default:
        throw usage(verb === undefined ? 'no command given' : `unknown command "${clip(verb)}"`);
    }
  } catch (err) {
    const error = isTunnelError(err) ? err : new TunnelError('ERR_INTERNAL', 'the command failed');
    const exitCode = error.code === 'ERR_INVALID_ARGUMENT' ? 2 : 1;
    return { stdout: '', stderr: `${error.code}: ${error.message}\n`, exitCode };
  }
}

async function printTables(ctx: ShellCommandContext, json: boolean): Promise<ShellCommandResult> {
  const tables = await ctx.tables();
  const stdout = json
    ? `${JSON.stringify(tables, null, 2)}\n`
    : tables.map((table) => formatLinkTable(table, ctx.peer)).join('\n');
  return { stdout, stderr: '', exitCode: 0 };
}

function usage(why: string): TunnelError {
  return new TunnelError('ERR_INVALID_ARGUMENT', `${why} (commands: tunnel-protocol | ${SHELL_USAGE})`);
}

function clip(text: string | undefined): string {
  return (text ?? '').slice(0, 64).replace(/[^\x20-\x7e]/g, '?');
}
