/**
 * Network-namespace fixtures for the netns test tier and benchmarks: unique names, veth links,
 * commands run inside a namespace, and two ready-made topologies. Everything created here is also
 * deleted on process exit, so a failing test never leaves namespaces behind.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const live = new Set<string>();
let exitHookInstalled = false;

/**
 * A short prefix unique to this process and call ("nt" + pid + random, at most 9 characters), so
 * prefix + a 4-letter suffix still fits a 15-character interface name and parallel runs never clash.
 */
export function uniquePrefix(): string {
  const pid = (process.pid % 36 ** 3).toString(36);
  return `nt${pid}${randomBytes(2).toString('hex').slice(0, 3)}-`;
}

/** Creates network namespaces (loopback up) and registers them for deletion at process exit. */
export function createNamespaces(names: string[]): void {
  installExitHook();
  for (const name of names) {
    execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
    live.add(name);
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
  }
}

/** Deletes namespaces (their veth ends and TUN devices go with them). Never throws. */
export function deleteNamespaces(names: string[]): void {
  for (const name of names) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // Already gone: deletion is idempotent.
    }
    live.delete(name);
  }
}

/** One end of a veth link: namespace, interface name, address with prefix ("192.0.2.1/24"). */
export interface VethEnd {
  namespace: string;
  interfaceName: string;
  cidr: string;
}

/** Joins two namespaces with a veth pair, addresses both ends and brings them up. */
export function addVethLink(a: VethEnd, b: VethEnd): void {
  execFileSync('ip', ['link', 'add', a.interfaceName, 'type', 'veth', 'peer', 'name', b.interfaceName], { stdio: 'pipe' });
  for (const end of [a, b]) {
    execFileSync('ip', ['link', 'set', end.interfaceName, 'netns', end.namespace], { stdio: 'pipe' });
    execFileSync('ip', ['-n', end.namespace, 'addr', 'add', end.cidr, 'dev', end.interfaceName], { stdio: 'pipe' });
    execFileSync('ip', ['-n', end.namespace, 'link', 'set', end.interfaceName, 'up'], { stdio: 'pipe' });
  }
}

/** Runs `command args…` inside `namespace` and returns its stdout (throws on a non-zero exit). */
export function execIn(namespace: string, command: string, args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', namespace, command, ...args], {
    encoding: 'utf8',
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
}

/** Result of a command run to completion. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args…` inside `namespace` without blocking; resolves with its exit code and output. */
export function execInAsync(namespace: string, command: string, args: string[], timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolveResult) => {
    execFile('ip', ['netns', 'exec', namespace, command, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
      resolveResult({ code, stdout, stderr });
    });
  });
}

/** Starts `command args…` inside `namespace` (for long-running peers); the caller kills it. */
export function spawnIn(namespace: string, command: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', namespace, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Runs the module `file` (a built script: testScript()) with this Node binary inside `namespace`
 * and parses the last line it prints as JSON.
 */
export async function runNodeIn(namespace: string, file: string, args: string[] = [], timeoutMs = 60_000): Promise<unknown> {
  const result = await execInAsync(namespace, process.execPath, [file, ...args], timeoutMs);
  if (result.code !== 0) {
    throw new Error(`node in ${namespace} exited with ${String(result.code)}: ${result.stderr.trim()}`);
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? 'null') as unknown;
}

/** A Node script started in a namespace: `ready` settles when it prints a line `ready`. */
export interface StartedNode {
  ready: Promise<void>;
  /** The JSON of its last output line, once it exits with code 0. */
  result: Promise<unknown>;
  /** Process id of the node process (`ip netns exec` execs into it). */
  pid: number | undefined;
  kill(): void;
}

/**
 * Starts the module `file` inside `namespace` (see runNodeIn; also a compiled benchmark role under
 * dist/) for scripts that must be listening before a peer sends: the script prints `ready` on its
 * own line when it is.
 */
export function startNodeIn(namespace: string, file: string, args: string[] = [], timeoutMs = 60_000): StartedNode {
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, file, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  let failReady: (err: Error) => void = () => undefined;
  const ready = new Promise<void>((resolveReady, rejectReady) => {
    markReady = resolveReady;
    failReady = rejectReady;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (/^ready$/m.test(stdout)) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const result = new Promise<unknown>((resolveResult, rejectResult) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      const failure = new Error(`node in ${namespace} exited with ${String(code)}: ${stderr.trim()}`);
      failReady(failure);
      if (code !== 0) {
        rejectResult(failure);
        return;
      }
      const lines = stdout.trim().split('\n');
      resolveResult(JSON.parse(lines[lines.length - 1] ?? 'null') as unknown);
    });
  });
  // Callers that only await `ready` must not see an unhandled rejection from `result`.
  result.catch(() => undefined);
  ready.catch(() => undefined);
  return { ready, result, pid: child.pid, kill: () => child.kill('SIGKILL') };
}

/** The repository root (the folder holding package.json). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above test/helpers');
    dir = parent;
  }
  return dir;
}

/**
 * Two hosts A (192.0.2.1) and B (192.0.2.2) on one veth wire; with
 * `ipv6`, also 2001:db8:1::1 and 2001:db8:1::2 (aAddress6, bAddress6).
 */
export interface PairTopology {
  prefix: string;
  a: string;
  b: string;
  aInterface: string;
  bInterface: string;
  aAddress: string;
  bAddress: string;
  aAddress6: string;
  bAddress6: string;
  destroy(): void;
}

/** Builds the pair topology under a fresh unique prefix. */
export function createPairTopology(options: { ipv6?: boolean } = {}): PairTopology {
  const prefix = uniquePrefix();
  const topology: PairTopology = {
    prefix,
    a: `${prefix}a`,
    b: `${prefix}b`,
    aInterface: `${prefix}va`,
    bInterface: `${prefix}vb`,
    aAddress: '192.0.2.1',
    bAddress: '192.0.2.2',
    aAddress6: '2001:db8:1::1',
    bAddress6: '2001:db8:1::2',
    destroy: () => deleteNamespaces([topology.a, topology.b]),
  };
  try {
    createNamespaces([topology.a, topology.b]);
    addVethLink(
      { namespace: topology.a, interfaceName: topology.aInterface, cidr: `${topology.aAddress}/24` },
      { namespace: topology.b, interfaceName: topology.bInterface, cidr: `${topology.bAddress}/24` },
    );
    if (options.ipv6 === true) {
      addIpv6Address(topology.a, topology.aInterface, `${topology.aAddress6}/64`);
      addIpv6Address(topology.b, topology.bInterface, `${topology.bAddress6}/64`);
    }
  } catch (err) {
    topology.destroy();
    throw err;
  }
  return topology;
}

/**
 * A small internet:
 *   hub 198.51.100.1 ── wan (router) ── c1 203.0.113.10 (public)
 *                          └─────────── nat 192.0.2.20 ── c2 192.168.77.2 (behind masquerade)
 * The NAT masquerades UDP/TCP/ICMP and drops IP protocols 4 (IPIP) and 47 (GRE). With `ipv6`
 * (topo.sh's EXTRA=v6), every outer link also carries global IPv6, routed and not NATed, as on a
 * DS-Lite line: hub 2001:db8:100::1, c1 2001:db8:113::10, nat 2001:db8:2::20, c2 2001:db8:77::2;
 * protocol 47 passes over IPv6.
 */
export interface NatTopology {
  prefix: string;
  hub: string;
  wan: string;
  c1: string;
  nat: string;
  c2: string;
  addresses: { hub: string; c1: string; natOutside: string; c2: string; natInside: string };
  /** The IPv6 addresses, when created with `ipv6`. */
  addresses6: { hub: string; c1: string; nat: string; c2: string };
  destroy(): void;
}

/** Builds the hub/wan/c1/nat/c2 topology under a fresh unique prefix. */
export function createNatTopology(options: { ipv6?: boolean } = {}): NatTopology {
  const prefix = uniquePrefix();
  const ns = (role: string): string => `${prefix}${role}`;
  const topology: NatTopology = {
    prefix,
    hub: ns('hub'),
    wan: ns('wan'),
    c1: ns('c1'),
    nat: ns('nat'),
    c2: ns('c2'),
    addresses: { hub: '198.51.100.1', c1: '203.0.113.10', natOutside: '192.0.2.20', c2: '192.168.77.2', natInside: '192.168.77.1' },
    addresses6: { hub: '2001:db8:100::1', c1: '2001:db8:113::10', nat: '2001:db8:2::20', c2: '2001:db8:77::2' },
    destroy: () => deleteNamespaces([topology.hub, topology.wan, topology.c1, topology.nat, topology.c2]),
  };
  try {
    createNamespaces([topology.hub, topology.wan, topology.c1, topology.nat, topology.c2]);
    const link = (nsA: string, ifA: string, cidrA: string, nsB: string, ifB: string, cidrB: string): void =>
      addVethLink({ namespace: nsA, interfaceName: ns(ifA), cidr: cidrA }, { namespace: nsB, interfaceName: ns(ifB), cidr: cidrB });
    link(topology.hub, 'hub0', '198.51.100.1/24', topology.wan, 'wanh', '198.51.100.254/24');
    link(topology.c1, 'c10', '203.0.113.10/24', topology.wan, 'wanc', '203.0.113.254/24');
    link(topology.nat, 'nato', '192.0.2.20/24', topology.wan, 'wann', '192.0.2.254/24');
    link(topology.c2, 'c20', '192.168.77.2/24', topology.nat, 'nati', '192.168.77.1/24');
    for (const router of [topology.wan, topology.nat]) execIn(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    execFileSync('ip', ['-n', topology.hub, 'route', 'add', 'default', 'via', '198.51.100.254'], { stdio: 'pipe' });
    execFileSync('ip', ['-n', topology.c1, 'route', 'add', 'default', 'via', '203.0.113.254'], { stdio: 'pipe' });
    execFileSync('ip', ['-n', topology.nat, 'route', 'add', 'default', 'via', '192.0.2.254'], { stdio: 'pipe' });
    execFileSync('ip', ['-n', topology.c2, 'route', 'add', 'default', 'via', '192.168.77.1'], { stdio: 'pipe' });
    if (options.ipv6 === true) addNatTopologyIpv6(topology, ns);
    execIn(
      topology.nat,
      'nft',
      ['-f', '-'],
      `table ip nat {
  chain post {
    type nat hook postrouting priority 100;
    oifname "${ns('nato')}" masquerade
  }
}
table ip filter {
  chain forward_filter {
    type filter hook forward priority 0;
    ip protocol { 4, 47 } drop
  }
}
`,
    );
  } catch (err) {
    topology.destroy();
    throw err;
  }
  return topology;
}

/** The IPv6 half of the NAT topology: addresses on every outer link, routes, forwarding. */
function addNatTopologyIpv6(topology: NatTopology, ns: (role: string) => string): void {
  const ip = (args: string[]): void => {
    execFileSync('ip', args, { stdio: 'pipe' });
  };
  for (const [namespace, ifname, cidr] of [
    [topology.hub, 'hub0', '2001:db8:100::1/64'], [topology.wan, 'wanh', '2001:db8:100::fe/64'],
    [topology.c1, 'c10', '2001:db8:113::10/64'], [topology.wan, 'wanc', '2001:db8:113::fe/64'],
    [topology.nat, 'nato', '2001:db8:2::20/64'], [topology.wan, 'wann', '2001:db8:2::fe/64'],
    [topology.c2, 'c20', '2001:db8:77::2/64'], [topology.nat, 'nati', '2001:db8:77::1/64'],
  ] as const) addIpv6Address(namespace, ns(ifname), cidr);
  for (const router of [topology.wan, topology.nat]) execIn(router, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  ip(['-n', topology.hub, '-6', 'route', 'add', 'default', 'via', '2001:db8:100::fe']);
  ip(['-n', topology.c1, '-6', 'route', 'add', 'default', 'via', '2001:db8:113::fe']);
  ip(['-n', topology.nat, '-6', 'route', 'add', 'default', 'via', '2001:db8:2::fe']);
  ip(['-n', topology.wan, '-6', 'route', 'add', '2001:db8:77::/64', 'via', '2001:db8:2::20']);
  ip(['-n', topology.c2, '-6', 'route', 'add', 'default', 'via', '2001:db8:77::1']);
}

/** Adds an IPv6 address without duplicate detection, so it is usable at once. */
export function addIpv6Address(namespace: string, interfaceName: string, cidr: string): void {
  execFileSync('ip', ['-n', namespace, '-6', 'addr', 'add', cidr, 'dev', interfaceName, 'nodad'], { stdio: 'pipe' });
}

/**
 * Two IPv6 hosts with a router between them, the second link narrower (an outer path that sends
 * ICMPv6 Packet Too Big):  A 2001:db8:10::1 ── R ── B 2001:db8:20::2, R–B at `narrowMtu`.
 */
export interface RoutedIpv6Topology {
  a: string;
  router: string;
  b: string;
  aAddress: string;
  bAddress: string;
  destroy(): void;
}

export function createRoutedIpv6Topology(narrowMtu: number): RoutedIpv6Topology {
  const prefix = uniquePrefix();
  const topology: RoutedIpv6Topology = {
    a: `${prefix}a`,
    router: `${prefix}r`,
    b: `${prefix}b`,
    aAddress: '2001:db8:10::1',
    bAddress: '2001:db8:20::2',
    destroy: () => deleteNamespaces([topology.a, topology.router, topology.b]),
  };
  const ip = (args: string[]): void => {
    execFileSync('ip', args, { stdio: 'pipe' });
  };
  try {
    createNamespaces([topology.a, topology.router, topology.b]);
    const wire = (nsA: string, ifA: string, nsB: string, ifB: string): void => {
      ip(['link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB]);
      ip(['link', 'set', ifA, 'netns', nsA]);
      ip(['link', 'set', ifB, 'netns', nsB]);
    };
    wire(topology.a, `${prefix}ar`, topology.router, `${prefix}ra`);
    wire(topology.router, `${prefix}rb`, topology.b, `${prefix}br`);
    addIpv6Address(topology.a, `${prefix}ar`, '2001:db8:10::1/64');
    addIpv6Address(topology.router, `${prefix}ra`, '2001:db8:10::fe/64');
    addIpv6Address(topology.router, `${prefix}rb`, '2001:db8:20::fe/64');
    addIpv6Address(topology.b, `${prefix}br`, '2001:db8:20::2/64');
    ip(['-n', topology.router, 'link', 'set', `${prefix}rb`, 'mtu', String(narrowMtu)]);
    ip(['-n', topology.b, 'link', 'set', `${prefix}br`, 'mtu', String(narrowMtu)]);
    for (const [ns, name] of [[topology.a, 'ar'], [topology.router, 'ra'], [topology.router, 'rb'], [topology.b, 'br']] as const) {
      ip(['-n', ns, 'link', 'set', `${prefix}${name}`, 'up']);
    }
    ip(['-n', topology.a, '-6', 'route', 'add', 'default', 'via', '2001:db8:10::fe']);
    ip(['-n', topology.b, '-6', 'route', 'add', 'default', 'via', '2001:db8:20::fe']);
    execIn(topology.router, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  } catch (err) {
    topology.destroy();
    throw err;
  }
  return topology;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => deleteNamespaces([...live]));
}
