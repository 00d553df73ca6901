import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeClientState } from '../../client/client-state.js';
import { CONTROL_PROTOCOL_VERSION } from '../../client/control/control-protocol.js';
import { startControlServer } from '../../client/control/control-server.js';
import { controlSocketPath } from '../../client/control/control-socket-path.js';
import { loadOrCreateIdentity } from '../../client/identity.js';
import { writeClusterConfig } from '../../server/hub-state/cluster-config.js';
import { hubStatePaths } from '../../server/hub-state/hub-state-paths.js';
import {
  CLIENT_STATE_FOLDER, HUB_STATE_FOLDER, STATE_FOLDER_MODE, type StateEntryKind, type StateFolderEntry,
} from '../../shared/cli/state-folder-layout.js';
import { HUB_CLI, runHubCli } from '../helpers/hub-cli.js';
import { waitUntil } from '../helpers/wait-until.js';

const README = new URL('../../README.md', import.meta.url);

/** A row of the README's state-folder tables, or of the layout written the same way. */
interface Row {
  name: string;
  mode: string;
  owner: string;
  holds: string;
}

/** The rows of the README table whose first header cell is `program`, inside "### The state folder". */
function readmeRows(program: string): Row[] {
  const text = readFileSync(README, 'utf8');
  const section = /^### The state folder\n([\s\S]*?)(?=^#{1,3} )/m.exec(text)?.[1] ?? '';
  const lines = section.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`| ${program} |`));
  if (start === -1) return [];
  const rows: Row[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [name = '', mode = '', owner = '', holds = ''] = line.slice(1, -1).split(' | ').map((cell) => cell.trim());
    rows.push({ name: name.replace(/`/g, ''), mode, owner: owner.replace(/`/g, ''), holds });
  }
  return rows;
}

function layoutRows(layout: Record<string, StateFolderEntry>): Row[] {
  return Object.values(layout).map((entry) => ({ name: entry.name, mode: entry.mode.toString(8).padStart(4, '0'), owner: entry.owner, holds: entry.holds }));
}

/** Every entry under `dir`, with its path relative to it, kind and permission bits. */
function entriesOf(dir: string, prefix = ''): { name: string; kind: StateEntryKind; mode: number }[] {
  return readdirSync(join(dir, prefix)).flatMap((child) => {
    const name = prefix === '' ? child : `${prefix}/${child}`;
    const stat = lstatSync(join(dir, name));
    const kind: StateEntryKind = stat.isDirectory() ? 'folder' : stat.isSocket() ? 'socket' : 'file';
    const entry = { name, kind, mode: stat.mode & 0o777 };
    return kind === 'folder' ? [entry, ...entriesOf(dir, name)] : [entry];
  });
}

/** The layout entry a file on disk is, matching `<pid>` against any process id. */
function layoutEntryOf(layout: Record<string, StateFolderEntry>, name: string): StateFolderEntry | undefined {
  return Object.values(layout).find((entry) => new RegExp(`^${entry.name.replace(/\./g, '\\.').replace('<pid>', '\\d+')}$`).test(name));
}

/** Checks every entry found on disk against the layout: known, of its kind, with its mode. */
function expectOnlyLayout(dir: string, layout: Record<string, StateFolderEntry>): string[] {
  expect(lstatSync(dir).mode & 0o777).toBe(STATE_FOLDER_MODE);
  const found = entriesOf(dir);
  for (const entry of found) {
    const known = layoutEntryOf(layout, entry.name);
    expect({ file: entry.name, known: known !== undefined }).toEqual({ file: entry.name, known: true });
    expect({ file: entry.name, kind: entry.kind, mode: entry.mode.toString(8) }).toEqual({ file: entry.name, kind: known?.kind, mode: known?.mode.toString(8) });
  }
  return found.map((entry) => entry.name);
}

describe('the state-folder layout', () => {
  const parent = mkdtempSync(join(tmpdir(), 'tunnel-layout-'));
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it('is what the README tables say, entry for entry', () => {
    expect(readmeRows('tunnel-hub')).toEqual(layoutRows(HUB_STATE_FOLDER));
    expect(readmeRows('tunnel-client')).toEqual(layoutRows(CLIENT_STATE_FOLDER));
  });

  it('keeps the names and modes installs already have on disk', () => {
    expect(hubStatePaths('/s')).toEqual({ dir: '/s', database: '/s/registry.sqlite', signingKey: '/s/hub-signing-key.pem', cluster: '/s/cluster.json' });
    expect(layoutRows(HUB_STATE_FOLDER).map(({ name, mode }) => `${name} ${mode}`)).toEqual([
      'registry.sqlite 0600', 'registry.sqlite-wal 0600', 'registry.sqlite-shm 0600', 'hub-signing-key.pem 0600',
      'ssh_host_ed25519_key 0600', 'ssh_host_ed25519_key.pub 0644', 'admin-token 0600', 'cluster.json 0600', 'serve.json 0600', 'hub.sock 0600',
    ]);
    expect(layoutRows(CLIENT_STATE_FOLDER).map(({ name, mode }) => `${name} ${mode}`)).toEqual([
      'identity 0600', 'identity.pub 0644', 'client.json 0600', 'run 0700', 'run/<pid>.sock 0600',
    ]);
    expect(controlSocketPath('/s', 42)).toBe('/s/run/42.sock');
  });

  it('is all a serving hub has in its folder, each entry with its mode', async () => {
    const dir = join(parent, 'hub');
    const serve = spawn(process.execPath, [HUB_CLI, '--state', dir, 'serve', '--listen', '127.0.0.1', '--ws-port', '0', '--ssh-port', '0', '--datapath', 'none', '--admin-listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TUNNEL_LOG_LEVEL: 'warn' } });
    let stderr = '';
    serve.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => serve.on('exit', (code) => resolve(code)));
    try {
      await waitUntil(() => existsSync(join(dir, HUB_STATE_FOLDER.serveRuntime.name)) && existsSync(join(dir, HUB_STATE_FOLDER.statusSocket.name)),
        30_000, () => `serve.json and the status socket: ${stderr}`);
      expect((await runHubCli(dir, ['admin-token'])).code).toBe(0);
      const found = expectOnlyLayout(dir, HUB_STATE_FOLDER);
      for (const entry of ['registry', 'signingKey', 'sshHostKey', 'sshHostPublicKey', 'adminToken', 'serveRuntime', 'statusSocket'] as const) {
        expect(found, stderr).toContain(HUB_STATE_FOLDER[entry].name);
      }
    } finally {
      serve.kill('SIGTERM');
      await exited;
    }
    // What only a running hub has goes with it.
    expect(existsSync(join(dir, HUB_STATE_FOLDER.serveRuntime.name))).toBe(false);
    expect(existsSync(join(dir, HUB_STATE_FOLDER.statusSocket.name))).toBe(false);
    expectOnlyLayout(dir, HUB_STATE_FOLDER);

    // A hub of a cluster writes cluster.json instead of the registry (PostgreSQL is not needed for its mode).
    const clusterDir = join(parent, 'cluster-hub');
    mkdirSync(clusterDir, { mode: STATE_FOLDER_MODE });
    writeClusterConfig(hubStatePaths(clusterDir).cluster, { registry: 'postgres://tunnel@db.invalid/tunnel', hubName: 'hub2' });
    expect(expectOnlyLayout(clusterDir, HUB_STATE_FOLDER)).toEqual([HUB_STATE_FOLDER.cluster.name]);
  });

  it('is all a member has in its folder while it runs, each entry with its mode', async () => {
    const dir = join(parent, 'member');
    const identity = loadOrCreateIdentity(dir);
    writeClientState(dir, { v: 1, peer: 'alice', hub: { url: 'wss://hub.example:8443', hubId: 'SHA256:x' } });
    const server = await startControlServer(controlSocketPath(dir, process.pid), () => ({ v: CONTROL_PROTOCOL_VERSION, ok: true, pid: process.pid, role: 'run', tunnels: [] }));
    try {
      const found = expectOnlyLayout(dir, CLIENT_STATE_FOLDER);
      expect(found.sort()).toEqual(['client.json', 'identity', 'identity.pub', 'run', `run/${process.pid}.sock`]);
      expect(readFileSync(join(dir, CLIENT_STATE_FOLDER.identityPublicKey.name), 'utf8')).toBe(`${identity.publicKeyLine} tunnel-client\n`);
    } finally {
      await server.close();
    }
    expect(expectOnlyLayout(dir, CLIENT_STATE_FOLDER).sort()).toEqual(['client.json', 'identity', 'identity.pub', 'run']);
  });
});
