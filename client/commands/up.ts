import type { Command } from 'commander';
import { resolveStateDir } from '../../shared/cli/state-dir.js';
import { ENCAPSULATIONS, type Encapsulation } from '../../shared/net/encapsulation.js';
import { LOG_LEVEL_HELP } from '../../shared/log-levels.js';
import { createLogger } from '../../shared/log.js';
import { nativeDatapathIo, tunQueues } from '../../shared/datapath/native-datapath-io.js';
import { validateTunnelSpec, type TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { readEspFile } from '../up/read-esp-file.js';
import { runStaticTunnel } from '../up/run-static-tunnel.js';
import { parseIntegerFlag } from './integer-flag.js';

interface UpFlags {
  local: string;
  remote: string;
  encap: string;
  key?: string;
  address?: string;
  peerAddress?: string;
  port?: string;
  localPort?: string;
  remotePort?: string;
  name?: string;
  mtu?: string;
  ttl?: string;
  mssClamp?: boolean;
  keepalive?: string;
  keepaliveRetries?: string;
  mac?: string;
  esp?: string;
  state?: string;
  logLevel?: string;
}

/** Registers `tunnel-client up`: a static tunnel in the foreground until SIGINT/SIGTERM. */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('run one static tunnel (no hub) in the foreground; SIGINT/SIGTERM removes it')
    .requiredOption('--local <addr>', 'this end\'s outer address, IPv4 or IPv6')
    .requiredOption('--remote <addr>', 'the other end\'s outer address, of the same family as --local')
    .requiredOption('--encap <encap>', `outer encapsulation: ${ENCAPSULATIONS.join(', ')}`)
    .option('--key <n>', 'GRE key, 0..4294967295 (gre and fou)')
    .option('--address <cidr>', 'this end\'s inner address with prefix, e.g. 10.1.12.38/30 (gretap: optional, with --peer-address)')
    .option('--peer-address <addr>', 'the other end\'s inner address (gretap: optional, with --address)')
    .option('--port <n>', 'UDP port for fou (default 4754) and gue (default 6080), both ends')
    .option('--local-port <n>', 'UDP port to listen on, when it differs from --port')
    .option('--remote-port <n>', 'UDP port to send to, when it differs from --port')
    .option('--name <ifname>', 'interface name, at most 15 characters (default tnl-<encap>)')
    .option('--mtu <n>', 'tunnel MTU (default: 1500 minus the encapsulation overhead)')
    .option('--ttl <n>', 'fixed outer TTL (default 64)')
    .option('--mss-clamp', 'clamp the MSS of TCP SYNs to the tunnel MTU')
    .option('--keepalive <seconds>', 'keepalive interval, 0 for none (default 10)')
    .option('--keepalive-retries <n>', 'missed keepalives before the tunnel is down (default 3)')
    .option('--mac <addr>', 'gretap: the TAP\'s MAC address (default: derived from the name and both outer addresses, the same on every start)')
    .option('--esp <file>', 'encrypt with ESP: static SAs from FILE (aead, spi-in/out, key-in/out in hex, optional udp; mode 0600)')
    .option('--state <dir>', 'state folder (default: $TUNNEL_CLIENT_STATE, else /var/lib/tunnel-client as root or as the user owning it, else ~/.local/state/tunnel-client)')
    .option('--log-level <level>', LOG_LEVEL_HELP)
    .action(async (flags: UpFlags) => {
      const spec = specFromFlags(flags);
      // Every flag is checked before anything is opened or created.
      validateTunnelSpec(spec);
      tunQueues();
      const log = createLogger('tunnel-client', flags.logLevel === undefined ? {} : { level: flags.logLevel });
      await runStaticTunnel(spec, {
        io: nativeDatapathIo,
        stateDir: resolveStateDir('client', flags.state),
        log,
        onReady: (status) => process.stdout.write(`${status.name} up: ${status.encap}${status.encrypted ? ` in ESP (${status.aead ?? ''})` : ''} ${status.local} -> ${status.remote}, ${
          status.inner === null ? 'no inner address (an L2 port for a bridge)' : `inner ${status.inner} peer ${status.peerInner}`}, mtu ${status.mtu}\n`),
        stopped: new Promise((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        }),
      });
    });
}

function specFromFlags(flags: UpFlags): TunnelSpecInput {
  const encap = flags.encap as Encapsulation;
  const optional = (flag: string, text: string | undefined, min: number, max: number) =>
    text === undefined ? undefined : parseIntegerFlag(flag, text, min, max);
  const spec: TunnelSpecInput = {
    name: flags.name ?? `tnl-${encap}`,
    encap,
    local: flags.local,
    remote: flags.remote,
    address: flags.address,
    peerAddress: flags.peerAddress,
    key: optional('--key', flags.key, 0, 0xffff_ffff),
    port: optional('--port', flags.port, 1, 65535),
    localPort: optional('--local-port', flags.localPort, 1, 65535),
    remotePort: optional('--remote-port', flags.remotePort, 1, 65535),
    mtu: optional('--mtu', flags.mtu, 0, 65535),
    ttl: optional('--ttl', flags.ttl, 1, 255),
    mssClamp: flags.mssClamp === true,
    keepaliveInterval: optional('--keepalive', flags.keepalive, 0, 3600),
    keepaliveRetries: optional('--keepalive-retries', flags.keepaliveRetries, 1, 255),
    mac: flags.mac,
    esp: flags.esp === undefined ? undefined : readEspFile(flags.esp),
  };
  for (const field of Object.keys(spec) as (keyof TunnelSpecInput)[]) {
    if (spec[field] === undefined) delete spec[field];
  }
  return spec;
}
