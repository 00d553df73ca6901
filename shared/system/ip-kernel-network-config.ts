/**
 * The kernel configuration through iproute2's `ip`, run with an argument array (never a shell
 * string), and /proc/sys for the forwarding switches. Each change is one `ip` run, except that
 * consecutive route changes go as one `ip -force -batch -` (a whole route table costs one spawn).
 * apply waits for them without blocking, but each spawn still forks on the event loop's thread
 * (a fork and exec, ~2-5 ms, dearer as the process grows): the rtnetlink implementation is the
 * default; this one stays for comparison (bench:kernel-config) and the contract test.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TunnelError, type TunnelErrorCode } from '../errors.js';
import { checkKernelChanges, checkLinkPrefix, parseKernelCidr } from './check-kernel-changes.js';
import type { KernelChange, KernelOutcome, KernelRoute } from './kernel-change.js';
import type { KernelNetworkConfig } from './kernel-network-config.js';
import { enableForwardingThroughSysctlAsync, PROC_SYS } from './sysctl-forwarding.js';

const IP_TIMEOUT_MS = 10_000;

/** Options of the `ip` implementation. */
export interface IpKernelNetworkConfigOptions {
  /** Where the kernel's sysctls are (default /proc/sys): tests pass a stand-in tree. */
  sysctlRoot?: string;
}

/** One thing to run for a batch of changes: an `ip` command, an `ip -batch` of routes, or a forwarding switch. */
type Step =
  | { readonly run: 'ip'; readonly args: string[] }
  | { readonly run: 'batch'; readonly lines: string[] }
  | { readonly run: 'forwarding'; readonly link: string };

/** The kernel configuration through `ip` and /proc/sys. */
export function createIpKernelNetworkConfig(options: IpKernelNetworkConfigOptions = {}): KernelNetworkConfig {
  const sysctl = options.sysctlRoot ?? PROC_SYS;
  return {
    async apply(changes) {
      checkKernelChanges(changes);
      const outcomes: KernelOutcome[] = [];
      for (const { step, count } of planSteps(changes)) outcomes.push(...repeat(await runStep(step, sysctl), count));
      return outcomes;
    },
    async listLinks(prefix) {
      checkLinkPrefix(prefix);
      const shown = await runIpText(['-j', 'link', 'show']);
      // ip names group 0 "default" (and others by /etc/iproute2/group, if named there).
      return (JSON.parse(shown) as { ifname: string; group?: string; ifalias?: string }[])
        .filter((link) => link.ifname.startsWith(prefix))
        .map((link) => ({ name: link.ifname, group: /^\d+$/.test(link.group ?? '') ? Number(link.group) : 0, alias: link.ifalias ?? null }));
    },
  };
}

/** The `ip` implementation on the real /proc/sys. */
export const ipKernelNetworkConfig: KernelNetworkConfig = createIpKernelNetworkConfig();

/** The steps for `changes`, each with how many changes its one outcome stands for. */
function planSteps(changes: readonly KernelChange[]): { step: Step; count: number }[] {
  const steps: { step: Step; count: number }[] = [];
  for (let i = 0; i < changes.length;) {
    let end = i;
    while (end < changes.length && isRouteChange(changes[end]!)) end++;
    if (end > i) {
      steps.push({ step: { run: 'batch', lines: changes.slice(i, end).map(routeLine) }, count: end - i });
      i = end;
      continue;
    }
    steps.push({ step: singleStep(changes[i++]!), count: 1 });
  }
  return steps;
}

function singleStep(change: KernelChange): Step {
  switch (change.kind) {
    case 'enable-forwarding':
      return { run: 'forwarding', link: change.link };
    case 'replace-route':
    case 'delete-route':
      return { run: 'batch', lines: [routeLine(change)] };
    default:
      return { run: 'ip', args: ipArguments(change) };
  }
}

function repeat(outcome: KernelOutcome, count: number): KernelOutcome[] {
  return Array.from({ length: count }, () => outcome);
}

async function runStep(step: Step, sysctl: string): Promise<KernelOutcome> {
  switch (step.run) {
    case 'forwarding':
      try {
        return { ok: true, ipv6Forwarding: await enableForwardingThroughSysctlAsync(step.link, sysctl) };
      } catch (err) {
        return { ok: false, error: err as TunnelError };
      }
    case 'batch':
      return ipOutcomeAsync(`ip -batch (${step.lines.length} commands, first: ${step.lines[0]})`, ['-force', '-batch', '-'], `${step.lines.join('\n')}\n`);
    case 'ip':
      return ipOutcomeAsync(`ip ${step.args.join(' ')}`, step.args);
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
    case 'mark-link':
      return ['link', 'set', 'dev', change.link, 'group', String(change.group), 'alias', change.alias];
    case 'delete-link-group':
      return ['link', 'del', 'group', String(change.group)];
    case 'add-address': {
      const { address, prefix, family } = parseKernelCidr(change.cidr);
      if (family === 6) return ['-6', 'addr', 'replace', `${address}/${prefix}`, 'dev', change.link, 'nodad'];
      if (change.peer === undefined) return ['-4', 'addr', 'replace', `${address}/${prefix}`, 'dev', change.link];
      return ['-4', 'addr', 'replace', address, 'peer', `${change.peer}/${prefix}`, 'dev', change.link];
    }
    case 'delete-address': {
      const { address, prefix, family } = parseKernelCidr(change.cidr);
      if (family === 4 && change.peer !== undefined) return ['-4', 'addr', 'del', address, 'peer', `${change.peer}/${prefix}`, 'dev', change.link];
      return [`-${family}`, 'addr', 'del', `${address}/${prefix}`, 'dev', change.link];
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
  if (route.link === null) return `route ${verb} unreachable ${route.prefix} metric ${route.metric}`;
  const line = `route ${verb} ${route.local === true ? 'local ' : ''}${route.prefix} dev ${route.link} metric ${route.metric}`;
  return `${line}${route.local === true ? ' table local' : ''}${route.source === undefined ? '' : ` src ${route.source}`}`;
}

/**
 * Where `ip` is: the PATH first, then the sbin folders, which a non-root user's PATH often lacks
 * (a service user holding CAP_NET_ADMIN runs it as well as root does).
 */
const IP_COMMAND = (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, 'ip')))
  ? 'ip'
  : ['/usr/sbin/ip', '/sbin/ip'].find((path) => existsSync(path)) ?? 'ip';

function ipOutcomeAsync(command: string, args: string[], input?: string): Promise<KernelOutcome> {
  return new Promise((resolve, reject) => {
    const child = execFile(IP_COMMAND, args, { timeout: IP_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err === null) {
        resolve({ ok: true });
        return;
      }
      try {
        resolve({ ok: false, error: ipError(Object.assign(err, { stderr: Buffer.from(stderr) }), command) });
      } catch (missing) {
        reject(missing);
      }
    });
    // An `ip` that ends before reading all of its input closes the pipe: its exit status tells.
    child.stdin?.on('error', () => undefined);
    if (input === undefined) child.stdin?.end();
    else child.stdin?.end(input);
  });
}

function runIpText(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(IP_COMMAND, args, { timeout: IP_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else {
        try {
          reject(ipError(Object.assign(err, { stderr: Buffer.from(stderr) }), `ip ${args.join(' ')}`));
        } catch (missing) {
          reject(missing);
        }
      }
    });
  });
}

// What ip prints for the refusals the seam gives codes to (rtnetlink-kernel-network-config.ts
// gets the same codes from the errno).
const REFUSALS: [RegExp, TunnelErrorCode][] = [
  [/Cannot find device|No such device/, 'ERR_DEVICE_NOT_FOUND'],
  [/File exists/, 'ERR_ALREADY_EXISTS'],
  [/No buffer space available|Too many open files|Cannot allocate memory|No space left on device/, 'ERR_RESOURCE_LIMIT'],
];

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
  const code = REFUSALS.find(([pattern]) => pattern.test(reason))?.[1] ?? 'ERR_SYSTEM';
  return new TunnelError(code, `${command}: ${reason}`, { cause: err });
}
