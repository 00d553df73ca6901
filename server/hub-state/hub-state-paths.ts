import { join } from 'node:path';

/** Where a hub keeps its files inside its state folder. */
export interface HubStatePaths {
  readonly dir: string;
  /** The SQLite registry (mode 0600). */
  readonly database: string;
  /** The Ed25519 token signing key, PKCS8 PEM (mode 0600); a hub of a cluster shares it through the registry instead. */
  readonly signingKey: string;
  /** A hub of a cluster: the registry URL and the hub's name (mode 0600: the URL may hold a password). */
  readonly cluster: string;
}

/** The file layout of the state folder `dir`. */
export function hubStatePaths(dir: string): HubStatePaths {
  return { dir, database: join(dir, 'registry.sqlite'), signingKey: join(dir, 'hub-signing-key.pem'), cluster: join(dir, 'cluster.json') };
}
