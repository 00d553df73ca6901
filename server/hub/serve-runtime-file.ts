import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { HUB_STATE_FOLDER, hubStateFile } from '../../shared/cli/state-folder-layout.js';
import type { ShortcutOptions } from '../shortcuts/shortcut-options.js';

/** Where a running `serve` listens: for tests, scripts and `status`. */
export interface ServeRuntime {
  pid: number;
  listen: string;
  wsPort: number;
  sshPort: number;
  tls: boolean;
  hubId: string;
  statusSocket: string;
  /** The admin listener (`/metrics`, the status page), or null with `--no-admin`. */
  admin: { listen: string; port: number; tls: boolean; tokenRequired: boolean } | null;
  /** The shortcut options it runs with (`--shortcuts`, `--shortcut-threshold`, `--shortcut-idle`, `--shortcuts-max`). */
  shortcuts: ShortcutOptions;
  startedAt: string;
}

/** Writes `serve.json` atomically (write aside, rename), so a reader never sees half of it. */
export function writeServeRuntime(stateDir: string, runtime: ServeRuntime): void {
  const path = hubStateFile(stateDir, 'serveRuntime');
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(runtime, null, 2)}\n`, { mode: HUB_STATE_FOLDER.serveRuntime.mode });
  renameSync(temporary, path);
}

/** Reads `serve.json`, or undefined when no hub wrote one. */
export function readServeRuntime(stateDir: string): ServeRuntime | undefined {
  try {
    return JSON.parse(readFileSync(hubStateFile(stateDir, 'serveRuntime'), 'utf8')) as ServeRuntime;
  } catch {
    return undefined;
  }
}

/** Removes `serve.json` on shutdown. */
export function removeServeRuntime(stateDir: string): void {
  rmSync(hubStateFile(stateDir, 'serveRuntime'), { force: true });
}
