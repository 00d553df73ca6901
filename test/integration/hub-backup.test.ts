import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readClientState } from '../../client/client-state.js';
import { runMember } from '../../client/session/run-member.js';
import { MemoryDatapath } from '../../server/hub/memory-datapath.js';
import { startHub } from '../../server/hub/start-hub.js';
import { Registry } from '../../server/registry/registry.js';
import { registrySnapshot, runHubCli } from '../helpers/hub-cli.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testLogger, withHub, type TestHub } from '../helpers/with-hub.js';
import { clusterHub, removeClusterHubs } from '../helpers/cluster-hubs.js';
import { postgresUnavailableReason, startPostgres } from '../helpers/postgres-server.js';

const never = new Promise<never>(() => undefined);
const postgresMissing = postgresUnavailableReason();
if (postgresMissing) console.warn(`SKIPPING the PostgreSQL backup refusal: ${postgresMissing}`);

describe('tunnel-hub backup FILE', () => {
  let hub: TestHub;
  let dir: string;

  beforeEach(async () => {
    hub = await withHub();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-backup-test-'));
  });
  afterEach(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies the registry of a running hub, 0600, and a hub restored from it takes its members back', async () => {
    const memberState = join(dir, 'member');
    await runMember({ stateDir: memberState, datapath: new MemoryClientDatapath(), log: testLogger, join: { url: hub.wsUrl, token: await hub.invite(), name: 'alice' }, once: true, stopped: never });
    await hub.invite({ uses: 3 });
    const file = join(dir, 'hub-backup.sqlite');

    const result = await runHubCli(hub.stateDir, ['backup', file]);
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toContain(`registry backed up to ${file}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const copy = await Registry.open(file, { readonly: true });
    try {
      expect(await copy.exportTables()).toEqual(await hub.hub.registry.exportTables());
    } finally {
      await copy.close();
    }

    // Restore as the README says: the keys (they never change) and the backup as the registry.
    const { wsPort, sshPort } = hub.hub;
    await hub.hub.close();
    const restored = join(dir, 'restored');
    mkdirSync(restored, { mode: 0o700 });
    for (const key of ['hub-signing-key.pem', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']) copyFileSync(join(hub.stateDir, key), join(restored, key));
    copyFileSync(file, join(restored, 'registry.sqlite'));
    const datapath = new MemoryDatapath();
    hub.hub = await startHub({ stateDir: restored, listen: '127.0.0.1', wsPort, sshPort, datapath: () => datapath, log: testLogger });
    expect(hub.hub.hubId).toBe(readClientState(memberState)?.hub.hubId);

    // The member's `run` signs in with its own key and gets the same /30 back.
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const client = new MemoryClientDatapath();
    const running = runMember({ stateDir: memberState, datapath: client, log: testLogger, stopped });
    try {
      await waitUntil(() => hub.hub.plane.liveState().get('alice')?.connected, 10_000, 'alice back');
      expect(client.tunnels.get('tnl-hub')).toMatchObject({ address: '10.1.12.2/30', peerAddress: '10.1.12.1' });
      expect(datapath.tunnels.get('tnl-alice')).toMatchObject({ address: '10.1.12.1/30' });
    } finally {
      stop();
      await running;
    }
  });

  it('refuses a folder that does not exist, the registry itself, and a hub never set up, changing nothing', async () => {
    const before = await registrySnapshot(hub.stateDir);
    const missing = await runHubCli(hub.stateDir, ['backup', join(dir, 'no', 'such', 'folder', 'b.sqlite')]);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toMatch(/^tunnel-hub: ERR_INVALID_ARGUMENT: .*no\/such\/folder is not a folder; create it first\n$/);
    const itself = await runHubCli(hub.stateDir, ['backup', join(hub.stateDir, 'registry.sqlite')]);
    expect(itself).toMatchObject({ code: 1 });
    expect(itself.stderr).toContain('ERR_INVALID_ARGUMENT');
    expect(itself.stderr).toContain('is the registry itself');
    const wal = await runHubCli(hub.stateDir, ['backup', join(hub.stateDir, 'registry.sqlite-wal')]);
    expect(wal.code).toBe(1);
    expect(await registrySnapshot(hub.stateDir)).toEqual(before);
    const nothing = await runHubCli(join(dir, 'empty'), ['backup', join(dir, 'b.sqlite')]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('ERR_NOT_INITIALIZED');
  });
});

describe.skipIf(postgresMissing !== null)('tunnel-hub backup FILE on a hub of a cluster', () => {
  it('refuses with the code and PostgreSQL\'s own tool, writing nothing', async () => {
    const server = await startPostgres();
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-backup-test-'));
    const hub = await clusterHub(server.url(await server.createDatabase('backup').then(() => 'backup')), 'hub', '198.51.100.1', { pool: '10.1.12.0/24' });
    try {
      const file = join(dir, 'cluster.sqlite');
      const result = await runHubCli(hub.stateDir, ['backup', file]);
      expect(result).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr).toMatch(/^tunnel-hub: ERR_BACKUP_UNSUPPORTED: the registry is on PostgreSQL \(postgres:.*\): back it up with PostgreSQL's own tool, e\.g\. `pg_dump --format=custom/);
      expect(existsSync(file)).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await removeClusterHubs([hub]);
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
