/**
 * Network namespaces for the benchmarks (which must not depend on test/): unique names, creation
 * with loopback up, `ip` in a namespace (one command or a whole batch), veth links, and deletion
 * of everything created here when the process exits, is interrupted or is terminated.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const live = new Set<string>();
let exitHooksInstalled = false;

/**
 * A short prefix unique to this process and call ("bn" + pid + random, at most 8 characters), so
 * prefix + a 7-letter suffix still fits a 15-character interface name and parallel runs never clash.
 */
export function uniqueBenchPrefix(): string {
  const pid = (process.pid % 36 ** 3).toString(36);
  return `bn${pid}${randomBytes(2).toString('hex').slice(0, 2)}-`;
}

/** Why namespaces cannot be made here, or null when they can (root and iproute2). */
export function namespacesUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN devices)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 (`npm run setup:test`)';
  }
  return null;
}

/** Creates namespaces (loopback up), deleted again at exit whatever happens. */
export function createBenchNamespaces(names: readonly string[]): void {
  installExitHooks();
  for (const name of names) {
    execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
    live.add(name);
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
  }
}

/** Deletes namespaces (their veth ends and TUN devices go with them). Never throws. */
export function deleteBenchNamespaces(names: readonly string[]): void {
  for (const name of names) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // Already gone: deletion is idempotent.
    }
    live.delete(name);
  }
}

/** Runs `ip -n NAMESPACE ARGS…` and returns its stdout (throws with ip's message on failure). */
export function ipIn(namespace: string, args: readonly string[]): string {
  return execFileSync('ip', ['-n', namespace, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
}

/** Runs many `ip` commands (one per line, without the leading `ip`) in one process: `ip -n NS -batch -`. */
export function ipBatchIn(namespace: string, lines: readonly string[]): void {
  if (lines.length === 0) return;
  execFileSync('ip', ['-n', namespace, '-batch', '-'], { input: `${lines.join('\n')}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
}

/** Runs `COMMAND ARGS…` inside `namespace` and returns its stdout. */
export function execInNamespace(namespace: string, command: string, args: readonly string[]): string {
  return execFileSync('ip', ['netns', 'exec', namespace, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

/** Sets a sysctl inside `namespace` (`net.ipv4.ip_forward=1`). */
export function sysctlIn(namespace: string, setting: string): void {
  execInNamespace(namespace, 'sysctl', ['-qw', setting]);
}

/** One end of a veth link: namespace, interface name and its address with prefix length. */
export interface BenchVethEnd {
  namespace: string;
  interfaceName: string;
  cidr: string;
}

/** Joins two namespaces with a veth pair, addresses both ends and brings them up. */
export function addBenchVeth(a: BenchVethEnd, b: BenchVethEnd): void {
  execFileSync('ip', ['link', 'add', a.interfaceName, 'type', 'veth', 'peer', 'name', b.interfaceName], { stdio: 'pipe' });
  for (const end of [a, b]) {
    execFileSync('ip', ['link', 'set', end.interfaceName, 'netns', end.namespace], { stdio: 'pipe' });
    ipIn(end.namespace, ['addr', 'add', end.cidr, 'dev', end.interfaceName]);
    ipIn(end.namespace, ['link', 'set', end.interfaceName, 'up']);
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => deleteBenchNamespaces([...live]));
  // An interrupted benchmark still leaves nothing behind: exit runs the hook above.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
}
