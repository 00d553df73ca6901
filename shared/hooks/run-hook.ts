import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import type { Logger } from 'pino';
import { TunnelError } from '../errors.js';

/** How long a hook may run before it is killed (its whole process group). */
export const HOOK_TIMEOUT_MS = 10_000;

/** How long after a hook exits its stderr may still be read before the outcome is logged. */
const STDERR_GRACE_MS = 100;

/** Bytes of a failing hook's stderr quoted in the log. */
const STDERR_QUOTE = 300;

/** How one run of a hook ended. */
export type HookOutcome = { kind: 'ok' } | { kind: 'failed'; exitCode: number | null; signal: string | null } | { kind: 'timeout' } | { kind: 'error'; message: string };

/** Checks `--hook FILE` at the edge: a regular file this process may execute (ERR_INVALID_ARGUMENT otherwise). */
export function checkHookFile(file: string): string {
  try {
    if (!statSync(file).isFile()) throw new Error('not a regular file');
    accessSync(file, constants.X_OK);
  } catch (err) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `--hook ${file}: must be an executable file (${(err as Error).message})`);
  }
  return file;
}

/**
 * Runs `file` once with `env` added to this process's environment, no arguments and no shell.
 * Resolves when it ends or is killed after `timeoutMs`, never rejects, and logs anything but a
 * clean exit: a hook can fail or hang without holding anything up but its own next run.
 */
export function runHook(file: string, env: Record<string, string>, log: Logger, timeoutMs = HOOK_TIMEOUT_MS): Promise<HookOutcome> {
  return new Promise((resolve) => {
    let stderr = '';
    let settled = false;
    const finish = (outcome: HookOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome.kind !== 'ok') {
        log.warn({ hook: file, event: env.TUNNEL_EVENT, tunnel: env.TUNNEL_IFACE, ...outcome, stderr: stderr.trim().slice(0, STDERR_QUOTE) || undefined },
          outcome.kind === 'timeout' ? `hook killed after ${timeoutMs} ms` : 'hook failed');
      }
      resolve(outcome);
    };
    // Its own process group, so a timeout takes down whatever the hook started too.
    const child = spawn(file, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      finish({ kind: 'timeout' });
    }, timeoutMs);
    timer.unref();
    child.unref();
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < STDERR_QUOTE) stderr += chunk;
    });
    child.on('error', (err) => finish({ kind: 'error', message: err.message }));
    // 'exit' can come before the last of stderr is read; 'close' waits for it, unless something the
    // hook left running holds stderr open, so it gets a short grace after 'exit' and no more.
    const outcomeOf = (exitCode: number | null, signal: NodeJS.Signals | null): HookOutcome =>
      exitCode === 0 ? { kind: 'ok' } : { kind: 'failed', exitCode, signal };
    child.on('exit', (exitCode, signal) => setTimeout(() => finish(outcomeOf(exitCode, signal)), STDERR_GRACE_MS));
    child.on('close', (exitCode, signal) => finish(outcomeOf(exitCode, signal)));
  });
}
