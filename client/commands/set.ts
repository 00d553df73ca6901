import type { Command } from 'commander';
import { resolveStateDir } from '../../shared/cli/state-dir.js';
import { TunnelError } from '../../shared/errors.js';
import { ENCAPSULATIONS, isEncapsulation } from '../../shared/net/encapsulation.js';
import type { TunnelChanges } from '../control/control-protocol.js';
import { updateRunningTunnel } from '../control/update-running-tunnel.js';
import { parseIntegerFlag } from './integer-flag.js';

interface SetFlags {
  local?: string;
  remote?: string;
  encap?: string;
  key?: string | false;
  port?: string;
  localPort?: string;
  remotePort?: string;
  mtu?: string;
  ttl?: string;
  json?: boolean;
  state?: string;
}

/** Registers `tunnel-client set NAME …`: changes a running tunnel live, without recreating its interface. */
export function registerSetCommand(program: Command): void {
  program
    .command('set')
    .description('change a running tunnel\'s outer addresses, ports, key or encapsulation live (roaming)')
    .argument('<name>', 'the tunnel\'s interface name')
    .option('--local <addr>', 'new outer address of this end')
    .option('--remote <addr>', 'new outer address of the other end')
    .option('--encap <encap>', `new encapsulation: ${ENCAPSULATIONS.join(', ')}`)
    .option('--key <n>', 'new GRE key')
    .option('--no-key', 'send without a GRE key')
    .option('--port <n>', 'new UDP port for both ends')
    .option('--local-port <n>', 'new local UDP port')
    .option('--remote-port <n>', 'new remote UDP port')
    .option('--mtu <n>', 'new tunnel MTU')
    .option('--ttl <n>', 'new outer TTL')
    .option('--json', 'print the tunnel\'s new status as JSON')
    .option('--state <dir>', 'state folder (default: $TUNNEL_CLIENT_STATE, else /var/lib/tunnel-client as root or as the user owning it, else ~/.local/state/tunnel-client)')
    .action(async (name: string, flags: SetFlags) => {
      const changes = changesFromFlags(flags);
      const status = await updateRunningTunnel(resolveStateDir('client', flags.state), name, changes);
      process.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n`
        : `${name}: ${String(status.encap)} ${String(status.local)} -> ${String(status.remote)}, mtu ${String(status.mtu)}\n`);
    });
}

function changesFromFlags(flags: SetFlags): TunnelChanges {
  const changes: TunnelChanges = {};
  if (flags.local !== undefined) changes.local = flags.local;
  if (flags.remote !== undefined) changes.remote = flags.remote;
  if (flags.encap !== undefined) {
    if (!isEncapsulation(flags.encap)) throw new TunnelError('ERR_INVALID_ARGUMENT', `unknown encapsulation ${JSON.stringify(flags.encap)} (expected ${ENCAPSULATIONS.join(', ')})`);
    changes.encap = flags.encap;
  }
  if (flags.key === false) changes.key = null;
  else if (flags.key !== undefined) changes.key = parseIntegerFlag('--key', flags.key, 0, 0xffff_ffff);
  if (flags.port !== undefined) changes.port = parseIntegerFlag('--port', flags.port, 1, 65535);
  if (flags.localPort !== undefined) changes.localPort = parseIntegerFlag('--local-port', flags.localPort, 1, 65535);
  if (flags.remotePort !== undefined) changes.remotePort = parseIntegerFlag('--remote-port', flags.remotePort, 1, 65535);
  if (flags.mtu !== undefined) changes.mtu = parseIntegerFlag('--mtu', flags.mtu, 0, 65535);
  if (flags.ttl !== undefined) changes.ttl = parseIntegerFlag('--ttl', flags.ttl, 1, 255);
  if (Object.keys(changes).length === 0) throw new TunnelError('ERR_INVALID_ARGUMENT', 'nothing to change: give at least one of --local, --remote, --encap, --key, --port, --mtu, --ttl');
  return changes;
}
