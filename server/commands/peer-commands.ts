import type { Command } from 'commander';
import { formatLinkTable } from '../hub-state/format-link-table.js';
import { withHubState } from '../hub-state/hub-state.js';
import { issuePeerCredential } from '../hub-state/issue-peer-credential.js';
import { HUB_END_NAME } from '../registry/peer-name.js';
import { parseDuration, parsePinnedEncap } from './cli-option-parsers.js';
import { hubStateDir } from './hub-state-dir.js';
import { addPeerGroup } from './peer-group.js';
import { registerPeerListCommand } from './peer-list-command.js';
import { sshKeyFromOptions } from './ssh-key-options.js';
import { registerPeerRouteCommands } from './peer-route-commands.js';
import { registerPeerRekeyCommand } from './peer-rekey-command.js';
import { registerRouterPeerCommands } from './router-peer-commands.js';
import { printJson, printNote, printText } from './write-output.js';

interface PeerAddOptions {
  sshKey?: string;
  sshKeyFile?: string;
  token?: boolean;
  tokenExpires: string;
  /** false with --no-key. */
  key: boolean;
  json?: boolean;
}

/** `tunnel-hub peer add|list|show|remove|revoke|restore|pin|table|set|update-key|config|rekey`. */
export function registerPeerCommands(program: Command): void {
  const peer = addPeerGroup(program);

  peer
    .command('add <name>')
    .description('register a peer and give it a /30 on a new hub link')
    .option('--ssh-key <line>', "the peer's OpenSSH public key line, e.g. 'ssh-ed25519 AAAA… comment'")
    .option('--ssh-key-file <file>', "a file holding the peer's OpenSSH public key line (the .pub file)")
    .option('--token', 'also print a peer token (alone on stdout) the peer can join with')
    .option('--token-expires <duration>', 'how long that token stays valid', '30d')
    .option('--no-key', 'run the hub link as GRE without a key, for routers that cannot set one')
    .option('--json', 'print JSON only')
    .action((name: string, options: PeerAddOptions, command: Command) =>
      withHubState(hubStateDir(command), async (state) => {
        const sshKey = sshKeyFromOptions(options);
        const ttlMs = parseDuration(options.tokenExpires, '--token-expires');
        const added = await state.registry.peers.add({ name, ...(sshKey ? { sshKey } : {}), keyless: !options.key });
        const token = options.token ? await issuePeerCredential(state, { name, ttlMs }) : undefined;
        if (options.json) return printJson({ peer: added.peer, hubLink: { ...added.hubLink, keyless: !options.key }, ...(sshKey ? { sshKey } : {}), ...(token ? { token } : {}) });
        const [hubInner, peerInner] = added.hubLink.inner;
        const summary = [`added peer ${name}: hub link ${added.hubLink.prefix} (hub ${hubInner}, ${name} ${peerInner})${options.key ? '' : ', GRE without a key'}`];
        if (sshKey) summary.push(`ssh key ${sshKey.fingerprint} (${sshKey.algorithm})`);
        if (token === undefined) return printText(summary.join('\n'));
        printNote(summary.join('\n'));
        printText(token);
      }));

  registerPeerListCommand(peer);

  peer
    .command('show <name>')
    .description("show a peer's keys, links and endpoint")
    .option('--json', 'print JSON only')
    .action((name: string, options: { json?: boolean }, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const detail = await registry.peers.show(name);
        const { sourceCheck } = await registry.routing.memberRecord(name);
        const routes = await registry.routing.listForPeer(name);
        const shortcuts = await registry.peers.shortcutsOn(name);
        if (options.json) return printJson({ ...detail, sourceCheck, shortcuts, routes });
        const lines = [
          `peer ${detail.name}`,
          `  created        ${new Date(detail.createdAt).toISOString()}`,
          `  token version  ${detail.tokenVersion}`,
          ...(detail.revokedAt === null ? [] : [`  revoked        ${new Date(detail.revokedAt).toISOString()} (\`peer restore ${detail.name}\` re-admits it)`]),
          `  encapsulation  ${detail.pinnedEncap ?? 'gre (default)'}`,
          `  endpoint       ${detail.endpoint ? `${detail.endpoint.address}${detail.endpoint.port ? `:${detail.endpoint.port}` : ''} (${detail.endpoint.source}, seen ${new Date(detail.endpoint.seenAt).toISOString()})` : 'not seen yet'}`,
          `  ssh keys       ${detail.sshKeys.length === 0 ? 'none' : ''}`.trimEnd(),
          ...detail.sshKeys.map((k) => `    ${k.fingerprint} ${k.algorithm}${k.comment ? ` ${k.comment}` : ''}`),
          '  links',
          ...detail.links.map((l) => `    ${l.ends[0]} <-> ${l.ends[1]}  ${l.prefix}  (${l.ends[0]} ${l.inner[0]}, ${l.ends[1]} ${l.inner[1]}) ${l.keyless ? 'no key' : `key ${l.greKey}`}${l.kind === 'shortcut' ? `  shortcut (${l.why ?? ''})` : ''}`),
          `  source check   ${sourceCheck ? 'on' : 'off'}`,
          `  shortcuts      ${shortcuts ? 'on' : 'off'}`,
          `  encryption     ${detail.encrypt ?? 'default (serve --encrypt for tunnel-client members; a router stays in the clear)'}`,
          `  prefixes       ${routes.length === 0 ? 'none' : ''}`.trimEnd(),
          ...routes.map((r) => `    ${r.prefix}  ${r.state}`),
        ];
        printText(lines.join('\n'));
      }));

  peer
    .command('remove <name>')
    .description('remove a peer, its keys and links; its /30s go back to the pools')
    .action((name: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const { released } = await registry.peers.remove(name);
        printText(`removed peer ${name}; released ${released.join(', ')}`);
      }));

  peer
    .command('revoke <name>')
    .description("cut a peer off: its tokens are void, its own key (SSH or client token) is refused with ERR_TOKEN_REVOKED, and a running hub closes its sessions and removes its tunnel within ~2 s")
    .addHelpText('after', '\nTo let it back in: `tunnel-hub peer restore NAME` (its registered key works again), or\n`tunnel-hub peer remove NAME` and a new invite (a fresh /30 and key).')
    .action((name: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const version = await registry.peers.revoke(name);
        printText(`revoked all tokens of ${name}; new tokens carry version ${version}; its own key is refused too (ERR_TOKEN_REVOKED) until \`peer restore ${name}\``);
      }));

  peer
    .command('restore <name>')
    .description('re-admit a revoked peer: its registered key works again (tokens from before the revocation stay void)')
    .action((name: string, _options: unknown, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        await registry.peers.restore(name);
        printText(`restored peer ${name}: its registered key is accepted again`);
      }));

  peer
    .command('pin <name>')
    .description("fix the encapsulation of a peer's links (gre, ipip, fou, gue), or `auto` to let the hub choose again")
    .requiredOption('--encap <encap>', 'gre | ipip | fou | gue | gretap (Ethernet frames on a TAP) | auto')
    .action((name: string, options: { encap: string }, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const encap = parsePinnedEncap(options.encap);
        const record = await registry.peers.setPinnedEncap(name, encap);
        printText(encap === null
          ? `peer ${record.name}: encapsulation chosen by the hub (GRE, FOU behind NAT or when GRE is unanswered, then GUE)`
          : `peer ${record.name}: encapsulation pinned to ${encap}`);
      }));

  peer
    .command('table <name>')
    .description('the hub<->NAME link as the two-column table community meshes exchange: each end\'s public address, address on the /30 and interface name')
    .option('--json', 'print JSON only')
    .action((name: string, options: { json?: boolean }, command: Command) =>
      withHubState(hubStateDir(command), async ({ registry }) => {
        const table = await registry.links.table((await registry.links.hubLinkOf(name)).id);
        if (options.json) return printJson(table);
        printText(formatLinkTable(table, HUB_END_NAME));
      }));

  registerRouterPeerCommands(peer);
  registerPeerRekeyCommand(peer);
  registerPeerRouteCommands(peer);
}
