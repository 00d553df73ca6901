import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { HUB_STATE_FOLDER, hubStateFile } from '../../shared/cli/state-folder-layout.js';
import { TunnelError } from '../../shared/errors.js';

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,128}$/;

/** Where the admin token of the hub in `stateDir` lives. */
export function adminTokenPath(stateDir: string): string {
  return hubStateFile(stateDir, 'adminToken');
}

/**
 * The token the admin listener asks for when it is reachable from other machines: read from the
 * state folder, or made (32 random bytes, base64url) and written 0600 on first use; `rotate`
 * replaces it. `tunnel-hub admin-token` prints it.
 */
export function loadOrCreateAdminToken(stateDir: string, options: { rotate?: boolean } = {}): string {
  const path = adminTokenPath(stateDir);
  if (!options.rotate) {
    const existing = readToken(path);
    if (existing !== undefined) return existing;
  }
  const token = randomBytes(32).toString('base64url');
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${token}\n`, { mode: HUB_STATE_FOLDER.adminToken.mode });
    // A rename replaces the old token at once; a running hub rereads the changed file.
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw new TunnelError('ERR_STATE', `cannot write the admin token ${path}: ${(err as Error).message}`);
  }
  return token;
}

function readToken(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TunnelError('ERR_STATE', `cannot read the admin token ${path}: ${(err as Error).message}`);
  }
  if (!TOKEN_PATTERN.test(text)) {
    throw new TunnelError('ERR_STATE', `${path} does not hold an admin token; remove it to have a new one made`);
  }
  chmodSync(path, HUB_STATE_FOLDER.adminToken.mode);
  return text;
}

/**
 * Checks presented tokens against the file, rereading it when it changed (a rotation takes effect
 * without a restart). Comparison is in constant time over digests, so length leaks nothing.
 */
export class AdminTokenCheck {
  private token: Buffer;
  private mtimeMs: number;

  constructor(private readonly stateDir: string) {
    this.token = digest(loadOrCreateAdminToken(stateDir));
    this.mtimeMs = statSync(adminTokenPath(stateDir)).mtimeMs;
  }

  /** True when `presented` is the current token. */
  matches(presented: string): boolean {
    this.refresh();
    return timingSafeEqual(this.token, digest(presented));
  }

  private refresh(): void {
    try {
      const mtimeMs = statSync(adminTokenPath(this.stateDir)).mtimeMs;
      if (mtimeMs === this.mtimeMs) return;
      this.token = digest(loadOrCreateAdminToken(this.stateDir));
      this.mtimeMs = mtimeMs;
    } catch {
      // Keep the token in memory when the file cannot be read now.
    }
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
