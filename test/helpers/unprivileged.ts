import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './netns.js';

/** Why processes cannot be run as another user with chosen capabilities here, or null. */
export function unprivilegedUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'running as another user needs root';
  for (const tool of ['setpriv', 'unshare', 'mknod']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) return `${tool} is missing (util-linux, coreutils)`;
  }
  return null;
}

/** A user id no account in /etc/passwd has, so nothing on the machine belongs to it. */
export function unusedUid(): number {
  const taken = new Set(readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => Number(line.split(':')[2])));
  for (let uid = 61_000; uid < 65_000; uid++) if (!taken.has(uid)) return uid;
  throw new Error('no free uid between 61000 and 65000');
}

/**
 * A TUN control node (char 10:200) that anyone may open, made in `dir`: Debian's udev makes
 * /dev/net/tun 0666, but a test machine's may be 0600; the unprivileged processes get this one
 * bind-mounted over it in a mount namespace of their own, so the machine's stays untouched.
 */
export function openTunNode(dir: string): string {
  const path = join(dir, 'tun');
  const made = spawnSync('mknod', [path, 'c', '10', '200'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mknod ${path}: ${made.stderr}`);
  chmodSync(path, 0o666);
  return path;
}

/** Who a process runs as and which capabilities it keeps. */
export interface Identity {
  uid: number;
  /** `+net_admin,+net_raw`, or '' for none. */
  caps: string;
}

/**
 * The command line that runs `node dist/<cli>.js ARGS` inside `namespace` as `who` holding only
 * `who.caps` (ambient, so they survive the exec of `ip`), with /dev/net/tun replaced by `tunNode`,
 * and a PATH without the sbin folders, like a service user's.
 */
export function unprivilegedCommand(namespace: string, who: Identity, tunNode: string, home: string, cli: 'server' | 'client', args: string[]): string[] {
  const caps = who.caps === '' ? '-all' : `-all,${who.caps}`;
  const setpriv = ['setpriv', '--reuid', String(who.uid), '--regid', String(who.uid), '--clear-groups',
    '--inh-caps', caps, ...(who.caps === '' ? [] : ['--ambient-caps', caps]), '--bounding-set', caps, '--no-new-privs'];
  const program = ['env', `HOME=${home}`, 'PATH=/usr/local/bin:/usr/bin:/bin', process.execPath, join(repoRoot(), 'dist', cli, 'cli.js'), ...args];
  const quoted = [...setpriv, ...program].map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(' ');
  return ['ip', 'netns', 'exec', namespace, 'unshare', '--mount', 'sh', '-c', `mount --bind '${tunNode}' /dev/net/tun && exec ${quoted}`];
}

/** Starts an unprivileged CLI process (see unprivilegedCommand); its pid is the node process's. */
export function spawnUnprivileged(command: string[]): { child: ChildProcess; output(): string } {
  const [file, ...args] = command;
  const child = spawn(file ?? 'false', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return { child, output: () => output };
}

/** Runs an unprivileged CLI command to completion: exit status and output. */
export function runUnprivileged(command: string[]): { status: number | null; stdout: string; stderr: string } {
  const [file, ...args] = command;
  const result = spawnSync(file ?? 'false', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The effective capability mask and real uid of a running process, from /proc. */
export function processIdentity(pid: number): { uid: number; capEff: bigint; capBnd: bigint } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  return { uid: Number(field('Uid').split(/\s+/)[0]), capEff: BigInt(`0x${field('CapEff')}`), capBnd: BigInt(`0x${field('CapBnd')}`) };
}

/** CAP_NET_ADMIN (12) and CAP_NET_RAW (13) as a capability mask. */
export const NET_ADMIN_AND_RAW = (1n << 12n) | (1n << 13n);
