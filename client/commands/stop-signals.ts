import type { Logger } from 'pino';

/** How long a member may take to shut down gracefully after SIGINT/SIGTERM before it is forced out. */
export const SHUTDOWN_DEADLINE_MS = 5_000;

/** What happens when the graceful shutdown overruns. */
export interface ShutdownDeadline {
  log: Logger;
  deadlineMs?: number;
  /** Synchronous last-ditch cleanup (remove interfaces) before the forced exit; errors are logged. */
  forceCleanup(): void;
}

/**
 * Resolves on the first SIGINT/SIGTERM and arms a hard deadline: a graceful shutdown that waits on
 * something that never comes (a hub that stopped answering a close, a half-closed SSH connection)
 * cannot keep the process alive past it. A second signal forces the exit at once. The timer is
 * unref'd, so a shutdown that finishes in time exits normally.
 */
export function stopSignals(deadline: ShutdownDeadline): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    const force = (why: string): void => {
      deadline.log.warn({ why }, 'forcing exit');
      try {
        deadline.forceCleanup();
      } catch (err) {
        deadline.log.warn({ err: (err as Error).message }, 'cleanup on forced exit failed');
      }
      process.exit(1);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        force(`second ${signal}`);
        return;
      }
      stopping = true;
      const ms = deadline.deadlineMs ?? SHUTDOWN_DEADLINE_MS;
      setTimeout(() => force(`shutdown took longer than ${ms} ms`), ms).unref();
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
