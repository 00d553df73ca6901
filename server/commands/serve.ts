import type { Command } from 'commander';
import { TunnelError } from '../../shared/errors.js';
import { checkHookFile } from '../../shared/hooks/run-hook.js';
import { ROUTING_MODES, type RoutingMode } from '../routing/member-route-specs.js';
import { parseDuration, parseOnOff, parsePositiveInteger, parseShortcutMode, parseShortcutThreshold } from './cli-option-parsers.js';
import { parseListenAddress } from '../../shared/cli/parse-listen-address.js';
import { canonicalOuterAddress } from '../../shared/datapath/outer-address.js';
import { isGlobalIpv6 } from '../../shared/net/global-ipv6.js';
import { LOG_LEVEL_HELP } from '../../shared/log-levels.js';
import { DEFAULT_REKEY_GRACE_MS } from '../control/link-sa-keeper.js';
import { DEFAULT_SOURCE_LIMITS } from '../control/source-limits.js';
import type { ShortcutOptions } from '../shortcuts/shortcut-options.js';
import { hubStateDir } from './hub-state-dir.js';

interface ServeFlags {
  listen: string;
  endpoint6?: string;
  wsPort: string;
  sshPort: string;
  tlsCert?: string;
  tlsKey?: string;
  datapath: string;
  keepalive: string;
  livenessTimeout: string;
  pathKeepalive: string;
  routing: string;
  memberDevices: string;
  hook?: string;
  logLevel?: string;
  adminListen: string;
  admin: boolean;
  metricsPerPeer: string;
  perSourceRate: string;
  perSourceMax: string;
  shortcuts: string;
  shortcutThreshold: string;
  shortcutIdle: string;
  shortcutsMax: string;
  encrypt?: string;
  rekeyInterval: string;
  rekeyGrace?: string;
}

/** `tunnel-hub serve`: the daemon, with the embedded defaults when given no flags. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the hub: members connect over WebSocket or SSH, the hub runs its end of every tunnel and serves /metrics and a live status page; sets the state folder up itself when needed')
    .option('--listen <addr>', 'address to listen on (default: all, IPv4 and IPv6)', '0.0.0.0')
    .option('--endpoint6 <addr>', 'the hub\'s global IPv6 address for tunnels, or none (default: the first global IPv6 address of this host); members with IPv6 connect there and their links run over IPv6')
    .option('--ws-port <n>', 'WebSocket port (0: any free port, see serve.json)', '8443')
    .option('--ssh-port <n>', 'SSH port (0: any free port, see serve.json)', '2222')
    .option('--tls-cert <file>', 'PEM certificate: serve wss:// instead of ws://')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--datapath <kind>', 'engine: the hub\'s tunnel ends on TUN devices (needs CAP_NET_ADMIN and CAP_NET_RAW, or root); none: coordinate only, carry no packets (for tests and load benchmarks)', 'engine')
    .option('--keepalive <seconds>', 'seconds between keepalives on each member\'s control connection', '10')
    .option('--liveness-timeout <seconds>', 'seconds of silence after which a member counts as disconnected', '30')
    .option('--path-keepalive <seconds>', 'seconds between keepalives on every tunnel the hub hands out, 1-25 (they also keep NAT mappings open)', '10')
    .option('--admin-listen <addr:port>', 'where /metrics (Prometheus) and the live status page listen; off loopback they ask for the admin token (tunnel-hub admin-token)', '127.0.0.1:9470')
    .option('--no-admin', 'no admin listener: no /metrics, no status page')
    .option('--metrics-per-peer <on|off>', 'per-peer series on /metrics (traffic and encryption: 10 per member tunnel, 16 when it is encrypted); off: hub-wide totals by encapsulation only, for hubs of thousands of members or a Prometheus short of storage', 'on')
    .option('--per-source-rate <n>', 'new connections per second one address may open on the WebSocket and SSH ports (bursts of 5 times as many)', String(DEFAULT_SOURCE_LIMITS.connectRate))
    .option('--per-source-max <n>', 'connections one address may hold open on the WebSocket and SSH ports (members behind one NAT share an address)', String(DEFAULT_SOURCE_LIMITS.maxPerSource))
    .option('--log-level <level>', LOG_LEVEL_HELP)
    .option('--routing <mode>', 'static: the hub forwards between members and pushes their routes; none: no routes at all (a routing daemon such as ospfd owns them)', 'static')
    .option('--member-devices <mode>', 'own: a TUN device per member tunnel; shared: one device (tc-members) for every member tunnel that needs no interface of its own (routing static, not gretap), which a hub of many thousands of members needs (a device costs a descriptor)', 'own')
    .option('--hook <file>', 'program run with the TUNNEL_* environment when a member tunnel goes up, goes down or changes (killed after 10 s)')
    .option('--shortcuts <mode>', 'auto: the hub builds a direct link (a shortcut, kind shortcut in `link list`) for two members whose traffic through it stays above --shortcut-threshold, and removes it when idle; off: none', 'auto')
    .option('--shortcut-threshold <rate>', 'RATE[:DURATION]: traffic between two members, both ways, that makes a shortcut once it lasts DURATION (default 2s), e.g. 500kbit, 2Mbit/s:3s', '1Mbit/s:2s')
    .option('--shortcut-idle <duration>', 'a shortcut without traffic for this long is removed and its /30 returns to the pool (1s to 7d)', '5m')
    .option('--shortcuts-max <n>', 'shortcuts one member may have at once (1-1000); beyond it the least active is removed first', '32')
    .option('--encrypt <on|off>', 'encrypt the links of members running tunnel-client (ESP, keys handed over wss:// or SSH only; `peer set NAME --encrypt` overrides per peer; routers only when set on); default: on with --tls-cert, off without it')
    .option('--rekey-interval <duration>', 'how often every encrypted link gets new SAs, make-before-break (e.g. 30m, 1h; 10s to 7d)', '1h')
    .option('--rekey-grace <duration>', 'how long an old inbound SA is still opened after a rekey switched the senders (at least 1s, less than --rekey-interval; default 10s, half the interval below 20s)')
    .action(async (flags: ServeFlags, command: Command) => {
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
        throw new TunnelError('ERR_INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
      }
      if (flags.datapath !== 'engine' && flags.datapath !== 'none') {
        throw new TunnelError('ERR_INVALID_ARGUMENT', `--datapath "${flags.datapath}" must be engine or none`);
      }
      const routing = parseRoutingMode(flags.routing);
      if (flags.memberDevices !== 'own' && flags.memberDevices !== 'shared') {
        throw new TunnelError('ERR_INVALID_ARGUMENT', `--member-devices "${flags.memberDevices}" must be own or shared`);
      }
      const encrypt = flags.encrypt === undefined ? undefined : parseOnOff(flags.encrypt, '--encrypt');
      const rekeyIntervalMs = parseDuration(flags.rekeyInterval, '--rekey-interval');
      if (rekeyIntervalMs < 10_000 || rekeyIntervalMs > 7 * 86_400_000) {
        throw new TunnelError('ERR_INVALID_ARGUMENT', `--rekey-interval "${flags.rekeyInterval}" must be from 10s to 7d`);
      }
      const graceMs = flags.rekeyGrace === undefined ? Math.min(DEFAULT_REKEY_GRACE_MS, rekeyIntervalMs / 2) : parseRekeyGrace(flags.rekeyGrace, rekeyIntervalMs, flags.rekeyInterval);
      const hook = flags.hook === undefined ? undefined : checkHookFile(flags.hook);
      const shortcuts: ShortcutOptions = {
        mode: parseShortcutMode(flags.shortcuts),
        threshold: parseShortcutThreshold(flags.shortcutThreshold),
        idleMs: shortcutIdle(flags.shortcutIdle),
        maxPerMember: parsePositiveInteger(flags.shortcutsMax, '--shortcuts-max', 1000),
      };
      const keepaliveMs = seconds(flags.keepalive, '--keepalive');
      const livenessMs = seconds(flags.livenessTimeout, '--liveness-timeout');
      if (livenessMs <= keepaliveMs) throw new TunnelError('ERR_INVALID_ARGUMENT', '--liveness-timeout must be longer than --keepalive');
      const admin = flags.admin ? parseListenAddress(flags.adminListen, '--admin-listen') : undefined;
      const metricsPerPeer = parseOnOff(flags.metricsPerPeer, '--metrics-per-peer');
      const connectRate = parsePositiveInteger(flags.perSourceRate, '--per-source-rate', 100_000);
      const maxPerSource = parsePositiveInteger(flags.perSourceMax, '--per-source-max', 1_000_000);
      // Higher rates also let more of one address's connections (and the door's) be mid-handshake.
      const perSource = {
        connectRate, connectBurst: 5 * connectRate, maxPerSource,
        maxPendingPerSource: Math.min(maxPerSource, Math.max(DEFAULT_SOURCE_LIMITS.maxPendingPerSource, connectRate)),
        maxPending: Math.max(DEFAULT_SOURCE_LIMITS.maxPending, 10 * connectRate),
      };
      // Loaded here, not at the top: every other tunnel-hub command would pay for the daemon's modules.
      const [{ serveHub }, { createLogger }] = await Promise.all([import('../hub/serve-hub.js'), import('../../shared/log.js')]);
      const log = createLogger('tunnel-hub', flags.logLevel === undefined ? {} : { level: flags.logLevel });
      return serveHub({
        stateDir: hubStateDir(command),
        listen: flags.listen,
        ...(flags.endpoint6 !== undefined ? { endpoint6: parseEndpoint6(flags.endpoint6) } : {}),
        wsPort: port(flags.wsPort, '--ws-port'),
        sshPort: port(flags.sshPort, '--ssh-port'),
        ...(flags.tlsCert && flags.tlsKey ? { tls: { certFile: flags.tlsCert, keyFile: flags.tlsKey } } : {}),
        datapath: flags.datapath,
        timing: { keepaliveMs, livenessMs },
        paths: { keepaliveInterval: parsePositiveInteger(flags.pathKeepalive, '--path-keepalive', 25) },
        routing,
        memberDevices: flags.memberDevices,
        shortcuts,
        encryption: { ...(encrypt !== undefined ? { byDefault: encrypt } : {}), rekeyIntervalMs, graceMs },
        ...(hook !== undefined ? { hook } : {}),
        ...(admin ? { admin: { ...admin, metricsPerPeer } } : {}),
        doors: { ws: perSource, ssh: perSource },
        log,
      });
    });
}

/** `--endpoint6`: a global IPv6 address, or `none` for no IPv6 links. */
function parseEndpoint6(text: string): string | null {
  if (text === 'none') return null;
  if (!isGlobalIpv6(text)) throw new TunnelError('ERR_INVALID_ADDRESS', `--endpoint6 "${text}" must be a global IPv6 address (2000::/3) or none`);
  return canonicalOuterAddress(text);
}

function port(text: string, option: string): number {
  const value = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 65535)) throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} "${text}" must be a port number from 0 to 65535`);
  return value;
}

function seconds(text: string, option: string): number {
  const value = /^[0-9]{1,5}(\.[0-9]{1,3})?$/.test(text) ? Number(text) * 1000 : NaN;
  if (!(value >= 50 && value <= 600_000)) throw new TunnelError('ERR_INVALID_ARGUMENT', `${option} "${text}" must be a number of seconds from 0.05 to 600`);
  return Math.round(value);
}

/** `--rekey-grace`: at least a second, and shorter than the rekey interval (a link drains before its next rekey starts). */
function parseRekeyGrace(text: string, intervalMs: number, intervalText: string): number {
  const ms = parseDuration(text, '--rekey-grace');
  if (ms < 1_000 || ms >= intervalMs) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `--rekey-grace "${text}" must be at least 1s and less than --rekey-interval (${intervalText})`);
  }
  return ms;
}

function shortcutIdle(text: string): number {
  const ms = parseDuration(text, '--shortcut-idle');
  if (ms > 7 * 86_400_000) throw new TunnelError('ERR_INVALID_ARGUMENT', `--shortcut-idle "${text}" must be at most 7d`);
  return ms;
}

function parseRoutingMode(text: string): RoutingMode {
  const mode = ROUTING_MODES.find((candidate) => candidate === text);
  if (mode === undefined) throw new TunnelError('ERR_INVALID_ARGUMENT', `--routing "${text}" must be ${ROUTING_MODES.join(' or ')}`);
  return mode;
}
