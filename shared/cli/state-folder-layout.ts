import { join } from 'node:path';

/** What an entry of a state folder is. */
export type StateEntryKind = 'file' | 'folder' | 'socket';

/** One entry of a state folder: its name there, its mode, the one module that writes it, and what it holds. */
export interface StateFolderEntry {
  /** The path inside the state folder; `<pid>` stands for a process id. */
  readonly name: string;
  readonly kind: StateEntryKind;
  /** The mode it is created with (and, for keys, set again when read). */
  readonly mode: number;
  /** The module that creates and rewrites it; everything else only reads it. */
  readonly owner: string;
  /** What it holds, as the README's state-folder tables say it. */
  readonly holds: string;
}

/** The mode of a state folder itself: some of its files hold keys. */
export const STATE_FOLDER_MODE = 0o700;

/**
 * The hub's state folder. These names are what existing installs have on disk: renaming one strands
 * every hub that runs today. The README's "State folder" tables are checked against this list.
 */
export const HUB_STATE_FOLDER = {
  registry: {
    name: 'registry.sqlite', kind: 'file', mode: 0o600, owner: 'server/registry/sqlite-backend.ts',
    holds: 'the registry of a hub that runs alone: peers, their keys, links and /30s, invites, endpoints, routes',
  },
  registryWal: {
    name: 'registry.sqlite-wal', kind: 'file', mode: 0o600, owner: 'SQLite',
    holds: "SQLite's write-ahead log, with the registry's mode; part of the registry while a hub or command has it open",
  },
  registryShm: {
    name: 'registry.sqlite-shm', kind: 'file', mode: 0o600, owner: 'SQLite',
    holds: "SQLite's shared-memory index of the log, with the registry's mode",
  },
  signingKey: {
    name: 'hub-signing-key.pem', kind: 'file', mode: 0o600, owner: 'server/auth/hub-signing-key.ts',
    holds: 'the Ed25519 key every token and invite is signed with, PKCS8 PEM (a hub of a cluster keeps it in the registry instead)',
  },
  sshHostKey: {
    name: 'ssh_host_ed25519_key', kind: 'file', mode: 0o600, owner: 'server/hub/ssh-host-key.ts',
    holds: "the hub's SSH host key, its id that members pin; made by the first `serve`",
  },
  sshHostPublicKey: {
    name: 'ssh_host_ed25519_key.pub', kind: 'file', mode: 0o644, owner: 'server/hub/ssh-host-key.ts',
    holds: 'its public half',
  },
  adminToken: {
    name: 'admin-token', kind: 'file', mode: 0o600, owner: 'server/admin/admin-token.ts',
    holds: 'the token `/metrics` and the status page ask for off loopback (`tunnel-hub admin-token`)',
  },
  cluster: {
    name: 'cluster.json', kind: 'file', mode: 0o600, owner: 'server/hub-state/cluster-config.ts',
    holds: "a hub of a cluster: the registry's PostgreSQL URL (it may hold a password) and the hub's name",
  },
  serveRuntime: {
    name: 'serve.json', kind: 'file', mode: 0o600, owner: 'server/hub/serve-runtime-file.ts',
    holds: 'while `serve` runs: its pid, ports and admin listener, for `status`, `peer config` and scripts',
  },
  statusSocket: {
    name: 'hub.sock', kind: 'socket', mode: 0o600, owner: 'server/hub/status-socket.ts',
    holds: 'while `serve` runs: the socket `tunnel-hub status` and `peer list` read the live sessions from',
  },
} as const satisfies Record<string, StateFolderEntry>;

/**
 * A member's state folder (`tunnel-client`). The same promise as the hub's: these names stay, and
 * the README's table is checked against them.
 */
export const CLIENT_STATE_FOLDER = {
  identity: {
    name: 'identity', kind: 'file', mode: 0o600, owner: 'client/identity.ts',
    holds: "the member's private key (Ed25519, OpenSSH format): it signs the member's tokens and logs in over SSH",
  },
  identityPublicKey: {
    name: 'identity.pub', kind: 'file', mode: 0o644, owner: 'client/identity.ts',
    holds: 'its public half, the line `tunnel-hub peer add --ssh-key-file` takes',
  },
  clientState: {
    name: 'client.json', kind: 'file', mode: 0o600, owner: 'client/client-state.ts',
    holds: "the peer name, the hub's URL and pinned id, and the last config applied (`run` brings it up at once)",
  },
  controlSockets: {
    name: 'run', kind: 'folder', mode: 0o700, owner: 'client/control/control-server.ts',
    holds: 'one control socket per running `join`, `run` or `up`',
  },
  controlSocket: {
    name: 'run/<pid>.sock', kind: 'socket', mode: 0o600, owner: 'client/control/control-server.ts',
    holds: 'where `tunnel-client status` and `set` reach that process',
  },
} as const satisfies Record<string, StateFolderEntry>;

/** The path of a hub state folder's entry. */
export function hubStateFile(stateDir: string, entry: keyof typeof HUB_STATE_FOLDER): string {
  return join(stateDir, HUB_STATE_FOLDER[entry].name);
}

/** The path of a member state folder's entry (not `controlSocket`: its name depends on the process). */
export function clientStateFile(stateDir: string, entry: Exclude<keyof typeof CLIENT_STATE_FOLDER, 'controlSocket'>): string {
  return join(stateDir, CLIENT_STATE_FOLDER[entry].name);
}

/** The control socket of process `pid` in a member's state folder. */
export function controlSocketFile(stateDir: string, pid: number): string {
  return join(stateDir, CLIENT_STATE_FOLDER.controlSocket.name.replace('<pid>', String(pid)));
}

/** True when `name`, a file in the member's `run` folder, is a process's control socket (`<pid>.sock`). */
export function isControlSocketName(name: string): boolean {
  return /^\d+\.sock$/.test(name);
}
