/**
 * A benchmark role running as a process of its own inside a namespace (the member swarm, the
 * keepalive reflector, the admin listener's answer probe), driven over Node's IPC channel: the
 * driver sends `{ id, command, args }`, the role answers `{ id, result }` or `{ id, error }`.
 * `ip netns exec` execs into node, so the channel and the process id carry through.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A role's command handlers, by command name. */
export type RoleHandlers = Record<string, (args: never) => unknown>;

/** The driver's side of a running role. */
export interface RoleProcess {
  readonly pid: number;
  /** Runs a command in the role and resolves with what its handler returned. */
  request<T>(command: string, args?: unknown): Promise<T>;
  /** Asks the role to exit (its `stop` handler runs first when it has one), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Its stderr so far (the last 8 KiB). */
  errors(): string;
}

interface Reply {
  id?: number;
  ready?: true;
  result?: unknown;
  error?: string;
}

/**
 * Starts `node dist/bench/<moduleFile>` inside `namespace` and resolves once it says it is ready.
 * `moduleUrl` is the role module's URL relative to a compiled bench file (`new URL('./x.js', import.meta.url)`).
 */
export async function startRoleIn(namespace: string, moduleUrl: URL, args: readonly string[] = [], readyTimeoutMs = 30_000): Promise<RoleProcess> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', namespace, process.execPath, fileURLToPath(moduleUrl), ...args], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-8192)));
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${moduleUrl.pathname} did not start within ${readyTimeoutMs} ms: ${stderr}`)), readyTimeoutMs);
    child.on('message', (reply: Reply) => {
      if (reply.ready) {
        clearTimeout(timer);
        resolve();
        return;
      }
      const waiter = reply.id === undefined ? undefined : pending.get(reply.id);
      if (!waiter) return;
      pending.delete(reply.id!);
      if (reply.error !== undefined) waiter.reject(new Error(reply.error));
      else waiter.resolve(reply.result);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const failure = new Error(`${moduleUrl.pathname} exited (${String(code ?? signal)}): ${stderr.trim()}`);
      reject(failure);
      for (const waiter of pending.values()) waiter.reject(failure);
      pending.clear();
    });
  });
  try {
    await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    pid: child.pid!,
    request: <T>(command: string, commandArgs?: unknown): Promise<T> => new Promise<T>((resolve, reject) => {
      if (!child.connected) {
        reject(new Error(`${moduleUrl.pathname} is not running: ${stderr.trim()}`));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, command, args: commandArgs });
    }),
    stop: async (graceMs = 10_000): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ command: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    errors: () => stderr,
  };
}

/**
 * The role's side: answers the driver's commands with `handlers` and says it is ready. A `stop`
 * message runs `onStop` and exits; so does the driver going away.
 */
export function serveRole(handlers: RoleHandlers, onStop: () => void | Promise<void> = () => undefined): void {
  if (!process.send) throw new Error('a benchmark role runs under startRoleIn (no IPC channel)');
  const send = (message: Reply): void => {
    if (process.connected) process.send!(message);
  };
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await onStop();
    } finally {
      process.exit(0);
    }
  };
  process.on('message', (message: { id?: number; command: string; args?: unknown }) => {
    if (message.command === 'stop') {
      void stop();
      return;
    }
    const handler = handlers[message.command];
    if (!handler) {
      send({ id: message.id, error: `unknown command ${message.command}` });
      return;
    }
    Promise.resolve()
      .then(() => (handler as (args: unknown) => unknown)(message.args))
      .then((result) => send({ id: message.id, result: result ?? null }), (err: unknown) => send({ id: message.id, error: (err as Error).message }));
  });
  process.on('disconnect', () => void stop());
  send({ ready: true });
}
