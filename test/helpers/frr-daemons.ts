import { execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execInAsync, spawnIn } from './netns.js';
import { waitUntil } from './wait-until.js';

const FRR = '/usr/lib/frr';

/** Why FRR's zebra and ospfd cannot run here (Debian's frr package, `npm run setup:test`), or null. */
export function frrUnavailableReason(): string | null {
  for (const binary of [`${FRR}/zebra`, `${FRR}/ospfd`, '/usr/bin/vtysh']) {
    if (!existsSync(binary)) return `FRR is not installed (${binary} missing; \`npm run setup:test\` installs Debian's frr)`;
  }
  try {
    execFileSync('id', ['frr'], { stdio: 'ignore' });
  } catch {
    return 'the frr user is missing (Debian\'s frr package creates it)';
  }
  return null;
}

/** zebra and ospfd of one namespace, with their own config, pid and vty folder. */
export interface FrrRouter {
  /** Runs one vtysh command against this router's daemons. */
  vtysh(command: string): Promise<string>;
  /** The daemons' output so far. */
  output(): string;
  /** SIGTERM both daemons (zebra takes its routes out), waits for them, and removes their folder. */
  stop(): Promise<void>;
}

/**
 * Starts zebra and ospfd in `namespace`, never the system service: everything lives in a folder of
 * their own under the temp folder (owned by the frr user the daemons drop to), no TCP vty.
 * `ospfdConfig` is ospfd.conf's body.
 */
export async function startFrrRouter(namespace: string, ospfdConfig: string): Promise<FrrRouter> {
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-frr-'));
  writeFileSync(join(dir, 'zebra.conf'), 'log stdout\n');
  writeFileSync(join(dir, 'ospfd.conf'), `log stdout\n${ospfdConfig}`);
  const owner = Number(execFileSync('id', ['-u', 'frr'], { encoding: 'utf8' }).trim());
  const group = Number(execFileSync('id', ['-g', 'frr'], { encoding: 'utf8' }).trim());
  for (const file of ['', 'zebra.conf', 'ospfd.conf']) chownSync(join(dir, file), owner, group);
  let output = '';
  const start = (daemon: 'zebra' | 'ospfd'): ChildProcess => {
    const child = spawnIn(namespace, `${FRR}/${daemon}`, ['-f', join(dir, `${daemon}.conf`), '-i', join(dir, `${daemon}.pid`),
      '-z', join(dir, 'zserv.api'), '--vty_socket', dir, '-P', '0', '-u', 'frr', '-g', 'frr', '--log', 'stdout']);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    return child;
  };
  const children = [start('zebra')];
  await waitUntil(() => existsSync(join(dir, 'zserv.api')), 10_000, () => `${join(dir, 'zserv.api')} to appear: ${output}`);
  children.push(start('ospfd'));
  await waitUntil(() => existsSync(join(dir, 'ospfd.vty')), 10_000, () => `${join(dir, 'ospfd.vty')} to appear: ${output}`);
  return {
    vtysh: async (command) => (await execInAsync(namespace, 'vtysh', ['--vty_socket', dir, '-c', command], 10_000)).stdout,
    output: () => output,
    stop: async () => {
      for (const child of children.reverse()) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

