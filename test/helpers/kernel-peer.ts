/**
 * A real Linux kernel as a test peer: Debian's kernel under qemu (software emulation), its NIC a
 * tap in a namespace the test owns, and a command channel that runs any shell script in the guest
 * and returns its exit code and output. Tests apply rendered configs verbatim through it.
 * scripts/kernel-peer/prepare.sh builds the cached kernel and initramfs (`npm run setup:test`);
 * the guest's /init is scripts/kernel-peer/guest-init.sh. Every guest started here is killed at
 * process exit, so a failing test leaves no qemu behind.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from './netns.js';
import { waitUntil } from './wait-until.js';

/** Where prepare.sh keeps the kernel, its modules and the initramfs. */
export const KERNEL_PEER_CACHE = process.env.TC_KERNEL_PEER_CACHE ?? '/var/cache/tunnel-coordinator/kernel-peer';
/** Runtime state of running guests: one folder per guest (console log, command socket). */
export const KERNEL_PEER_RUN = '/run/tunnel-coordinator/kernel-peer';

const READY = /TC-KERNEL-PEER-(READY|FAILED)/;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
let prepared: string | null = null;

/** Why kernel peers cannot boot here, or null when they can. Tests print this loudly and skip. */
export function kernelPeerUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'kernel peer tests need root (run as root or in CI)';
  for (const tool of ['qemu-system-x86_64', 'cpio', 'depmod']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `kernel peer tests need ${tool} (\`npm run setup:test\` installs it)`;
    }
  }
  if (!existsSync(join(KERNEL_PEER_CACHE, 'current', 'kver'))) {
    return `kernel peer tests need Debian's kernel in ${KERNEL_PEER_CACHE} (\`npm run setup:test\` downloads it)`;
  }
  return null;
}

/** Output of one script run in the guest. */
export interface GuestResult {
  code: number;
  output: string;
}

/** A booted guest. */
export interface KernelPeer {
  name: string;
  namespace: string;
  /** The tap device in `namespace` that is the guest's eth0 wire. */
  tap: string;
  /** Milliseconds from starting qemu to the guest's ready marker. */
  bootMs: number;
  /** Runs `script` with the guest's busybox sh (iproute2 as `ip`); never throws on a non-zero exit. */
  exec(script: string, timeoutMs?: number): Promise<GuestResult>;
  /** Like exec, but throws with the output when the script fails; returns the output. */
  run(script: string, timeoutMs?: number): Promise<string>;
  /** The guest's serial console so far (kernel messages, /init's lines). */
  consoleLog(): string;
  /** Kills qemu and removes the tap and the run folder. Idempotent. */
  stop(): Promise<void>;
}

/** Where a guest's wire goes. */
export interface KernelPeerOptions {
  /** Namespace that receives the tap (the caller creates and deletes it). */
  namespace: string;
  /** Guest name (hostname, run folder); a unique one by default. */
  name?: string;
  /** Tap device name (at most 15 characters); `kp` + the name by default. */
  tap?: string;
  /** Bridge in `namespace` to enslave the tap to, for several guests on one segment. */
  bridge?: string;
  memoryMb?: number;
  bootTimeoutMs?: number;
}

/**
 * Boots a guest whose eth0 is a new tap in `options.namespace` (up, no address: the test decides).
 * Refreshes the initramfs first when its sources changed. Guests may boot in parallel.
 */
export async function startKernelPeer(options: KernelPeerOptions): Promise<KernelPeer> {
  const reason = kernelPeerUnavailableReason();
  if (reason !== null) throw new Error(reason);
  installExitHook();
  const kernelDir = prepareOnce();
  const name = options.name ?? `kp${randomBytes(3).toString('hex')}`;
  const tap = (options.tap ?? `kp${name}`).slice(0, 15);
  const runDir = join(KERNEL_PEER_RUN, name);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const ns = options.namespace;
  execFileSync('ip', ['-n', ns, 'tuntap', 'add', 'dev', tap, 'mode', 'tap'], { stdio: 'pipe' });
  if (options.bridge !== undefined) execFileSync('ip', ['-n', ns, 'link', 'set', tap, 'master', options.bridge], { stdio: 'pipe' });
  execFileSync('ip', ['-n', ns, 'link', 'set', tap, 'up'], { stdio: 'pipe' });
  const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)?.join(':') ?? '00:00:01'}`;
  const consolePath = join(runDir, 'console.log');
  const socketPath = join(runDir, 'ctl.sock');
  // vnet_hdr=off: no checksum or GSO metadata crosses the tap, so it carries what a wire would.
  // -cpu max speeds up module loading under TCG; mitigations=off saves another 0.3 s of boot.
  const qemuArgs = [
    'netns', 'exec', ns, 'qemu-system-x86_64', '-name', name, '-nodefaults', '-display', 'none', '-no-reboot',
    '-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', String(options.memoryMb ?? 256),
    '-kernel', join(kernelDir, 'kernel'), '-initrd', join(kernelDir, 'initramfs.cpio.gz'),
    '-append', `console=ttyS0 quiet panic=-1 mitigations=off tc.name=${name}`,
    '-serial', `file:${consolePath}`,
    '-chardev', `socket,id=ctl,path=${socketPath},server=on,wait=off`, '-serial', 'chardev:ctl',
    '-netdev', `tap,id=wire,ifname=${tap},script=no,downscript=no,vnet_hdr=off`,
    '-device', `virtio-net-pci,netdev=wire,mac=${mac},romfile=`,
  ];
  const started = Date.now();
  const qemu = spawn('ip', qemuArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(qemu);
  let qemuErr = '';
  qemu.stderr?.setEncoding('utf8').on('data', (chunk: string) => { qemuErr += chunk; });
  const exited = new Promise<void>((resolveExit) => qemu.once('exit', () => { live.delete(qemu); resolveExit(); }));
  const readConsole = (): string => (existsSync(consolePath) ? readFileSync(consolePath, 'utf8') : '');
  let channel: CommandChannel | null = null;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    channel?.close();
    if (qemu.exitCode === null && qemu.signalCode === null) {
      qemu.kill('SIGTERM');
      const timer = setTimeout(() => qemu.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    try {
      execFileSync('ip', ['-n', ns, 'link', 'del', tap], { stdio: 'ignore' });
    } catch {
      // qemu closing the tap already removed it, or the namespace is gone.
    }
    rmSync(runDir, { recursive: true, force: true });
  };
  try {
    const bootLeftMs = Math.max(0, started + (options.bootTimeoutMs ?? 60_000) - Date.now());
    const marker = await waitUntil(() => {
      if (qemu.exitCode !== null || qemu.signalCode !== null) throw new Error(`qemu exited during boot: ${qemuErr.trim()}`);
      return READY.exec(readConsole());
    }, bootLeftMs, () => `guest ${name} to boot:\n${readConsole().slice(-2000)}`);
    if (marker[1] !== 'READY') throw new Error(`guest ${name} failed its setup:\n${readConsole().slice(-2000)}`);
    const bootMs = Date.now() - started;
    channel = await CommandChannel.open(socketPath);
    const openChannel = channel;
    const exec = (script: string, timeoutMs = 30_000): Promise<GuestResult> => openChannel.run(script, timeoutMs);
    return {
      name, namespace: ns, tap, bootMs, exec,
      run: async (script, timeoutMs) => {
        const result = await exec(script, timeoutMs);
        if (result.code !== 0) throw new Error(`guest ${name}: exit ${String(result.code)} from:\n${script}\n${result.output}`);
        return result.output;
      },
      consoleLog: readConsole,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Serialised request/response over the guest's second serial port. */
class CommandChannel {
  private buffer = '';
  private queue: Promise<unknown> = Promise.resolve();
  private waiter: ((line: string) => void) | null = null;
  private lines: string[] = [];
  private nextId = 1;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, newline).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(newline + 1);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async open(path: string): Promise<CommandChannel> {
    let lastError: unknown;
    const socket = await waitUntil(() => new Promise<Socket | undefined>((resolveSocket) => {
      const s = connect(path, () => resolveSocket(s));
      s.once('error', (err) => {
        lastError = err;
        resolveSocket(undefined);
      });
    }), 5_000, () => `the guest's command socket ${path} (${String(lastError)})`);
    return new CommandChannel(socket);
  }

  run(script: string, timeoutMs: number): Promise<GuestResult> {
    const next = this.queue.then(() => this.runNow(script, timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.socket.destroy();
  }

  private async runNow(script: string, timeoutMs: number): Promise<GuestResult> {
    const id = `r${String(this.nextId++)}`;
    this.socket.write(`${id} ${Buffer.from(script.endsWith('\n') ? script : `${script}\n`).toString('base64')}\n`);
    const deadline = Date.now() + timeoutMs;
    let begun = false;
    const output: string[] = [];
    for (;;) {
      const line = await this.nextLine(deadline - Date.now());
      if (line === null) throw new Error(`guest command timed out after ${String(timeoutMs)} ms:\n${script}\n${output.join('\n')}`);
      if (!begun) {
        begun = line === `__TC_BEGIN__ ${id}`;
        continue;
      }
      if (line.startsWith(`__TC_END__ ${id} `)) return { code: Number(line.slice(`__TC_END__ ${id} `.length)), output: output.join('\n') };
      output.push(line);
    }
  }

  private nextLine(waitMs: number): Promise<string | null> {
    const ready = this.lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (waitMs <= 0) return Promise.resolve(null);
    return new Promise((resolveLine) => {
      const timer = setTimeout(() => { this.waiter = null; resolveLine(null); }, waitMs);
      this.waiter = (line) => { clearTimeout(timer); resolveLine(line); };
    });
  }

  private wake(): void {
    if (this.waiter === null) return;
    const line = this.lines.shift();
    if (line === undefined) return;
    const waiter = this.waiter;
    this.waiter = null;
    waiter(line);
  }
}

function prepareOnce(): string {
  prepared ??= execFileSync('sh', [join(repoRoot(), 'scripts', 'kernel-peer', 'prepare.sh'), '--cached'], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
  return prepared;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const qemu of live) qemu.kill('SIGKILL');
  });
}
