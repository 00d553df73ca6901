import { hubStateFile } from '../../shared/cli/state-folder-layout.js';

/** Where a hub keeps the files `init` and every command open (names and modes: shared/cli/state-folder-layout.ts). */
export interface HubStatePaths {
  readonly dir: string;
  /** The SQLite registry (mode 0600). */
  readonly database: string;
  /** The Ed25519 token signing key, PKCS8 PEM (mode 0600); a hub of a cluster shares it through the registry instead. */
  readonly signingKey: string;
  /** A hub of a cluster: the registry URL and the hub's name (mode 0600: the URL may hold a password). */
  readonly cluster: string;
}

/** The paths of those files in the state folder `dir`. */
export function hubStatePaths(dir: string): HubStatePaths {
  return { dir, database: hubStateFile(dir, 'registry'), signingKey: hubStateFile(dir, 'signingKey'), cluster: hubStateFile(dir, 'cluster') };
}
