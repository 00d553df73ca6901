import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** A private PostgreSQL server for one test file: data, log and unix socket in one temp folder. */
export interface PostgresServer {
  /** The folder holding the socket (reachable from every namespace: they share the file system). */
  readonly socketDir: string;
  readonly port: number;
  /** A URL over the unix socket to `database` (default `postgres`), optionally in one schema. */
  url(database?: string, options?: { schema?: string; password?: string }): string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Creates a fresh schema in the `postgres` database and returns a URL whose search_path is it. */
  createSchema(name: string): Promise<string>;
  /** Stops the server, keeping its data (`-m fast`, or `immediate` as a crash would). */
  stop(mode?: 'fast' | 'immediate'): void;
  /** Starts it again on the same folder and port. */
  start(): void;
  /** Stops the server and removes its folder. */
  close(): void;
}

/** Where Debian's PostgreSQL binaries are (the newest major version), or null. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  const fromEnv = process.env.TUNNEL_TEST_PG_BIN;
  if (fromEnv && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  const found = versions.map((v) => join(root, v, 'bin')).find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
  return found ?? null;
}

/** Why PostgreSQL tests cannot run here, or null when they can. Tests print this and skip. */
export function postgresUnavailableReason(): string | null {
  if (postgresBinDir() === null) return 'PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb); run `npm run setup:test`';
  if (process.getuid?.() === 0 && postgresUser() === null) return 'running as root, and there is no `postgres` user to run initdb as (PostgreSQL refuses root)';
  return null;
}

/**
 * initdb in a temp folder, then the server on a free port with its socket in that folder. As
 * root, everything runs as the `postgres` system user (the server refuses root) and the folder is
 * handed to it. Trust authentication: the socket folder is private to this test run.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const reason = postgresUnavailableReason();
  if (bin === null || reason !== null) throw new Error(reason ?? 'no PostgreSQL');
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-pg-'));
  const data = join(dir, 'data');
  const owner = process.getuid?.() === 0 ? postgresUser() : null;
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chmodSync(dir, 0o755);
  }
  const as = (command: string, args: string[]): string[] => (owner ? ['runuser', '-u', 'postgres', '--', command, ...args] : [command, ...args]);
  const run = (command: string, args: string[]): void => {
    const [file, ...rest] = as(join(bin, command), args);
    const result = spawnSync(file as string, rest, { cwd: dir, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`);
  };
  const port = await freePort();
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
  const serverOptions = `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  let running = false;
  const start = (): void => {
    run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', serverOptions, '-w', '-t', '30', 'start']);
    running = true;
  };
  const stop = (mode: 'fast' | 'immediate' = 'fast'): void => {
    if (!running) return;
    running = false;
    run('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
  };
  const onExit = (): void => {
    // A test run that dies must not leave a server behind.
    if (running) spawnSync(as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'])[0] as string, as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']).slice(1));
  };
  process.once('exit', onExit);
  try {
    start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = (database = 'postgres', options: { schema?: string; password?: string } = {}): string => {
    const params = new URLSearchParams({ host: dir, port: String(port) });
    if (options.schema) params.set('options', `-c search_path=${options.schema}`);
    const auth = options.password === undefined ? 'postgres' : `postgres:${encodeURIComponent(options.password)}`;
    return `postgres://${auth}@localhost/${database}?${params.toString()}`;
  };
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    socketDir: dir,
    port,
    url,
    createDatabase: async (name) => {
      await admin((client) => client.query(`CREATE DATABASE "${name}"`));
      return url(name);
    },
    createSchema: async (name) => {
      await admin((client) => client.query(`CREATE SCHEMA "${name}"`));
      return url('postgres', { schema: name });
    },
    stop,
    start,
    close: () => {
      try {
        stop('immediate');
      } finally {
        process.removeListener('exit', onExit);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function postgresUser(): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
