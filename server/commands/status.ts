import type { Command } from 'commander';
import type { PeerStatus } from '../hub/hub-status.js';
import { hubStatusDocument } from '../hub/hub-status-report.js';
import { PEER_FILTER_HELP, PEER_STATE_HELP, isPeerFilterSet, parsePeerFilterOptions } from './cli-option-parsers.js';
import { describeHubLinkEncap } from './describe-hub-link-encap.js';
import { formatColumns } from './format-columns.js';
import { hubStateDir } from './hub-state-dir.js';
import { INDENTED_JSON_MAX_CHARS, printJson, printText } from './write-output.js';

/** The ESP column: how the hub link is carried, its SPIs and SA age, and ESP's drops; `-` in the clear. Never a key. */
function describeEsp(peer: PeerStatus): string {
  if (!peer.encrypted) return '-';
  const spi = (value: number): string => `0x${value.toString(16).padStart(8, '0')}`;
  const parts = [peer.esp ?? 'esp', peer.aead ?? ''];
  if (peer.spiOut !== null) parts.push(`out ${spi(peer.spiOut)}`);
  if (peer.spiIn.length > 0) parts.push(`in ${peer.spiIn.map(spi).join('+')}`);
  if (peer.saAgeSeconds !== null) parts.push(`${peer.saAgeSeconds}s`);
  if (peer.rekey && peer.rekey.phase !== 'steady') parts.push(peer.rekey.phase);
  const drops = Object.entries(peer.dropsByReason ?? {}).filter(([, count]) => count > 0).map(([reason, count]) => `${reason}=${count}`);
  return [...parts.filter((part) => part !== ''), ...drops].join(' ');
}

/** `tunnel-hub status [--json]`: live sessions from a running `serve`, else the registry's record. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('per peer: connected or not, public address (seen and reported), encapsulation and why, ESP (raw or in UDP, AEAD, SPIs, SA age, drops; never a key), config versions, last seen, traffic counters; in a cluster, the links to the other hubs')
    .option('--state <state>', PEER_STATE_HELP)
    .option('--filter <text>', PEER_FILTER_HELP)
    .option('--json', 'print JSON only')
    .action(async (options: { state?: string; filter?: string; json?: boolean }, command: Command) => {
      const filter = parsePeerFilterOptions(options);
      // A status larger than printJson indents is printed as the hub wrote it: the same line, sooner.
      const answer = await hubStatusDocument(hubStateDir(command), filter, options.json ? INDENTED_JSON_MAX_CHARS : Infinity);
      if ('text' in answer) return printText(answer.text);
      const { status } = answer;
      if (options.json) return printJson(status);
      const hub = status.hub.running
        ? `hub ${status.hub.endpoint}: running (pid ${status.hub.pid ?? '?'}, ws ${status.hub.wsPort ?? '?'}, ssh ${status.hub.sshPort ?? '?'})`
        : `hub ${status.hub.endpoint}: not running (showing the registry's last record)`;
      printText(`${hub}\n\n${formatColumns(
        ['PEER', 'STATE', 'SEEN', 'REPORTED', 'ENCAP', 'ESP', 'PREFIX', 'SPEC HUB', 'SPEC PEER', 'LAST SEEN', 'RX PKTS', 'TX PKTS', 'SPOOFED', 'ROUTES'],
        status.peers.map((peer) => [
          peer.name,
          peer.connected ? `up (${peer.transport ?? '?'})` : 'down',
          peer.endpoint.seen ?? '-',
          peer.endpoint.reported ?? '-',
          `${peer.encap} (${peer.encapReason ?? (peer.nat ? 'nat' : '-')})${peer.binding ? ` ${peer.binding.state}${peer.binding.address ? ` ${peer.binding.address}:${peer.binding.port ?? '?'}` : ''}` : ''}`,
          describeEsp(peer),
          peer.prefix,
          peer.specVersion ? `${peer.specVersion.hub.applied}/${peer.specVersion.hub.issued}` : '-',
          peer.specVersion ? `${peer.specVersion.peer.acked}/${peer.specVersion.peer.issued}` : '-',
          peer.lastSeen ?? '-',
          peer.counters ? String(peer.counters.rx.packets) : '-',
          peer.counters ? String(peer.counters.tx.packets) : '-',
          peer.spoofed === null ? '-' : String(peer.spoofed),
          peer.routes.length === 0 ? '-' : peer.routes.join(','),
        ]),
        isPeerFilterSet(filter) ? 'no peer matches --state/--filter' : 'no peers; add one with `tunnel-hub peer add NAME` or `tunnel-hub invite create`',
      )}${status.links.length === 0 ? '' : `\n\n${formatColumns(
        ['LINK', 'PREFIX', 'ENCAP', 'REASON', 'PUBLIC A', 'PUBLIC B'],
        status.links.map((link) => [
          `${link.ends[0]} <-> ${link.ends[1]}`, link.prefix, link.encap,
          (link.reason ?? '-') + (link.reachable === false ? ' (no tunnel)' : ''),
          link.public[0] ?? '-', link.public[1] ?? '-',
        ]),
        '',
      )}`}${status.hubLinks.length === 0 ? '' : `\n\n${formatColumns(
        ['HUB LINK', 'PREFIX', 'ENCAP', 'STATE', 'RX PKTS', 'TX PKTS'],
        status.hubLinks.map((link) => [
          `${link.tunnel} (${link.hub})`, link.prefix,
          describeHubLinkEncap({ encap: link.encap, encapReason: link.reason, pinned: link.pinned }),
          link.state ?? '-',
          link.counters ? String(link.counters.rx.packets) : '-',
          link.counters ? String(link.counters.tx.packets) : '-',
        ]),
        '',
      )}`}`);
    });
}
