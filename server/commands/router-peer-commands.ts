import type { Command } from 'commander';
import { TunnelError } from '../../shared/errors.js';
import { KERNEL_CONFIG_TARGETS, isKernelConfigTarget, renderPeerConfig } from '../../shared/kernel-config/render-peer-config.js';
import { DYNDNS2_PATH } from '../control/dyndns2-update.js';
import { withHubState } from '../hub-state/hub-state.js';
import { keyedRouterTables } from '../hub-state/router-link-keys.js';
import { readServeRuntime } from '../hub/serve-runtime-file.js';
import { SERVE_DEFAULTS } from '../hub/serve-defaults.js';
import { parseEncryptSetting, parseOnOff } from './cli-option-parsers.js';
import { hubStateDir } from './hub-state-dir.js';
import { printNote, printText } from './write-output.js';

/** `tunnel-hub peer set|update-key|config`: what routers (kernel tunnels, dyndns2) need. */
export function registerRouterPeerCommands(peer: Command): void {
  peer
    .command('set <name>')
    .description("change a peer's settings")
    .option('--no-key', 'run the hub link as GRE without a key, for routers that cannot set one (the hub tells it apart by source address)')
    .option('--key', 'run the hub link with its GRE key again')
    .option('--source-check <on|off>', "drop inner packets from sources outside the peer's addresses and prefixes (on, the default); off for a member carrying transit traffic under a routing daemon")
    .option('--shortcuts <on|off>', 'let the hub build shortcuts (direct links to busy peers) for this peer (on, the default); off: the hub makes none and removes those it has')
    .option('--encrypt <on|off|default>', "encrypt the peer's links (ESP) or not, whatever serve --encrypt says; default: follow it again. A router (no tunnel-client) encrypts only when on: render its config again after")
    .action((name: string, options: { key?: boolean; sourceCheck?: string; shortcuts?: string; encrypt?: string }, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const setKey = command.getOptionValueSource('key') === 'cli' && options.key !== undefined;
        if (!setKey && options.sourceCheck === undefined && options.shortcuts === undefined && options.encrypt === undefined) {
          throw new TunnelError('ERR_INVALID_ARGUMENT', 'nothing to set: pass --no-key, --key, --source-check on|off, --shortcuts on|off or --encrypt on|off|default');
        }
        const sourceCheck = options.sourceCheck === undefined ? undefined : parseOnOff(options.sourceCheck, '--source-check');
        const shortcuts = options.shortcuts === undefined ? undefined : parseOnOff(options.shortcuts, '--shortcuts');
        const encrypt = options.encrypt === undefined ? undefined : parseEncryptSetting(options.encrypt);
        // Every setting or none.
        const said = await registry.transaction(async (tx) => {
          const lines: string[] = [];
          if (setKey) {
            const changed = await tx.keyless.setHubLinkKeyless(name, !options.key);
            const what = options.key ? 'GRE with its key' : 'GRE without a key (told apart by source address)';
            lines.push(`peer ${name}: hub link runs ${what}${changed ? '' : ' (unchanged)'}`);
          }
          if (sourceCheck !== undefined) {
            const changed = await tx.routing.setSourceCheck(name, sourceCheck);
            lines.push(`peer ${name}: source check ${sourceCheck ? 'on' : 'off'}${changed ? '' : ' (unchanged)'}`);
          }
          if (shortcuts !== undefined) {
            const changed = await tx.peers.setShortcuts(name, shortcuts);
            lines.push(`peer ${name}: shortcuts ${shortcuts ? 'on' : 'off'}${changed ? '' : ' (unchanged)'}`);
          }
          if (encrypt !== undefined) {
            const changed = await tx.encryption.set(name, encrypt);
            const what = encrypt === null ? 'follows the hub\'s default (serve --encrypt; a router stays in the clear)' : encrypt;
            lines.push(`peer ${name}: encryption ${what}${changed ? '' : ' (unchanged)'}`);
          }
          return lines;
        });
        printText(said.join('\n'));
      }));

  peer
    .command('update-key <name>')
    .description("print a new dyndns2 key for NAME (shown once, only its hash is kept); the old key stops working")
    .addHelpText('after', `\nRouters update their address with GET ${DYNDNS2_PATH}?hostname=NAME on the hub's WebSocket port, HTTP Basic NAME:KEY.`)
    .action((name: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const key = await registry.dyndnsKeys.issue(name);
        printNote(`new dyndns2 key for ${name} (shown once; any older key is void):`);
        printText(key);
      }));

  peer
    .command('config <name> <target>')
    .description(`commands that build NAME's end of its links on ${KERNEL_CONFIG_TARGETS.join(', ')}; with NAME set --encrypt on, their ESP SAs too (linux, openwrt, freebsd)`)
    .option('--dyndns-url <url>', "the hub's dyndns2 URL for OpenWrt's update hook (default: from the running hub, else https://ENDPOINT:8443/nic/update)")
    .action((name: string, target: string, options: { dyndnsUrl?: string }, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        if (!isKernelConfigTarget(target)) {
          throw new TunnelError('ERR_INVALID_ARGUMENT', `unknown target "${target}": use one of ${KERNEL_CONFIG_TARGETS.join(', ')}`);
        }
        const stateDir = hubStateDir(command);
        const running = readServeRuntime(stateDir);
        const dyndnsUrl = options.dyndnsUrl ?? `${running?.tls === false ? 'http' : 'https'}://${(await registry.settings.require()).endpoint}:${running?.wsPort ?? SERVE_DEFAULTS.wsPort}${DYNDNS2_PATH}`;
        const { tables, esp } = await keyedRouterTables(registry, name);
        printText(renderPeerConfig(tables, name, target, { dyndnsUrl, esp }));
      }));
}
