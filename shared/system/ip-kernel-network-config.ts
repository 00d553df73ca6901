/**
 * The kernel configuration through iproute2's `ip`, run with execFileSync and an argument array
 * (never a shell string), and /proc/sys for the forwarding switches. Each change is one `ip` run,
 * except that consecutive route changes go as one `ip -force -batch -` (a whole route table costs
 * one spawn). Every `ip` run forks a process and blocks the caller until it ends (~2-5 ms).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TunnelError } from '../errors.js';
import { checkKernelChanges, parseKernelCidr } from './check-kernel-changes.js';
import type { KernelChange, KernelOutcome, KernelRoute } from './kernel-change.js';
import type { KernelNetworkConfig } from './kernel-network-config.js';
import { enableForwardingThroughSysctl, PROC_SYS } from './sysctl-forwarding.js';

const IP_TIMEOUT_MS = 10_000;

/** Options of the `ip` implementation. */
export interface IpKernelNetworkConfigOptions {
  /** Where the kernel's sysctls are (default /proc/sys): tests pass a stand-in tree. */
  sysctlRoot?: string;
}

/** The kernel configuration through `ip` and /proc/sys. */
export function createIpKernelNetworkConfig(options: IpKernelNetworkConfigOptions = {}): KernelNetworkConfig {
  const sysctl = options.sysctlRoot ?? PROC_SYS;
  return {
    applySync(changes) {
      checkKernelChanges(changes);
      const outcomes: KernelOutcome[] = [];
      for (let i = 0; i < changes.length;) {
        let end = i;
        while (end < changes.length && isRouteChange(changes[end]!)) end++;
        if (end > i) {
          const outcome = runIpBatch(changes.slice(i, end).map(routeLine));
          for (; i < end; i++) outcomes.push(outcome);
        } else {
          outcomes.push(applyOne(changes[i]!, sysctl));
          i++;
        }
      }
      return outcomes;
    },
  };
}

/** The `ip` implementation on the real /proc/sys. */
export const ipKernelNetworkConfig: KernelNetworkConfig = createIpKernelNetworkConfig();

function applyOne(change: KernelChange, sysctl: string): KernelOutcome {
  switch (change.kind) {
    case 'enable-forwarding':
      try {
        return { ok: true, ipv6Forwarding: enableForwardingThroughSysctl(change.link, sysctl) };
      } catch (err) {
        return { ok: false, error: err as TunnelError };
      }
    case 'replace-route':
    case 'delete-route':
      return runIpBatch([routeLine(change)]);
    default:
      return runIp(ipArguments(change));
  }
}

function ipArguments(change: Exclude<KernelChange, { kind: 'enable-forwarding' | 'replace-route' | 'delete-route' }>): string[] {
  switch (change.kind) {
    case 'set-mtu':
      return ['link', 'set', 'dev', change.link, 'mtu', String(change.mtu)];
    case 'set-mac':
      return ['link', 'set', 'dev', change.link, 'address', change.mac];
    case 'set-up':
      return ['link', 'set', 'dev', change.link, change.up ? 'up' : 'down'];
    case 'delete-link':
      return ['link', 'del', 'dev', change.link];
    case 'add-address': {
      const { address, prefix, family } = parseKernelCidr(change.cidr);
      if (family === 6) return ['-6', 'addr', 'replace', `${address}/${prefix}`, 'dev', change.link, 'nodad'];
      if (change.peer === undefined) return ['-4', 'addr', 'replace', `${address}/${prefix}`, 'dev', change.link];
      return ['-4', 'addr', 'replace', address, 'peer', `${change.peer}/${prefix}`, 'dev', change.link];
    }
  }
}

function isRouteChange(change: KernelChange): change is Extract<KernelChange, { kind: 'replace-route' | 'delete-route' }> {
  return change.kind === 'replace-route' || change.kind === 'delete-route';
}

/** A route as a line of `ip -batch`, e.g. `route replace 10.50.2.0/24 dev tnl-hub metric 1000`. */
function routeLine(change: KernelChange): string {
  const { route } = change as { route: KernelRoute };
  const verb = change.kind === 'delete-route' ? 'del' : 'replace';
  return route.link === null
    ? `route ${verb} unreachable ${route.prefix} metric ${route.metric}`
    : `route ${verb} ${route.prefix} dev ${route.link} metric ${route.metric}`;
}

/**
 * Where `ip` is: the PATH first, then the sbin folders, which a non-root user's PATH often lacks
 * (a service user holding CAP_NET_ADMIN runs it as well as root does).
 */
const IP_COMMAND = (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, 'ip')))
  ? 'ip'
  : ['/usr/sbin/ip', '/sbin/ip'].find((path) => existsSync(path)) ?? 'ip';

/** Runs many lines in one `ip -force -batch -`: every line is tried; one outcome for them all. */
function runIpBatch(lines: readonly string[]): KernelOutcome {
  try {
    execFileSync(IP_COMMAND, ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'pipe'], timeout: IP_TIMEOUT_MS });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: ipError(err, `ip -batch (${lines.length} commands, first: ${lines[0]})`) };
  }
}

function runIp(args: string[]): KernelOutcome {
  try {
    execFileSync(IP_COMMAND, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: IP_TIMEOUT_MS });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: ipError(err, `ip ${args.join(' ')}`) };
  }
}

/** A refusal as a coded error; a missing `ip` is thrown, since then nothing can be tried. */
function ipError(err: unknown, command: string): TunnelError {
  const fields = err as { code?: unknown; stderr?: Buffer };
  if (fields.code === 'ENOENT') {
    throw new TunnelError('ERR_SYSTEM', `${command}: iproute2 is not installed`, { cause: err });
  }
  const reason = fields.stderr?.toString('utf8').trim().split('\n')[0] || (err as Error).message;
  if (/Operation not permitted|Permission denied/.test(reason)) {
    return new TunnelError('ERR_PERMISSION', `${command}: needs root or CAP_NET_ADMIN (${reason})`, { cause: err });
  }
  return new TunnelError('ERR_SYSTEM', `${command}: ${reason}`, { cause: err });
}
