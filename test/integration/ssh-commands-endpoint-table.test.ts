import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSshPublicKey } from '../../server/auth/ssh-public-key.js';
import { runHubCli } from '../helpers/hub-cli.js';
import { opensshExec, sshExec, type ExecResult } from '../helpers/ssh-exec.js';
import { withHub, type TestHub } from '../helpers/with-hub.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';

describe('SSH shell commands: endpoint, table, config', () => {
  let hub: TestHub;
  let keyDir: string;
  let keyFile: string;
  let privateKey: string;

  beforeAll(async () => {
    hub = await withHub();
    const pair = generateEd25519KeyPair('router');
    privateKey = pair.private;
    keyDir = mkdtempSync(join(tmpdir(), 'tunnel-ssh-key-'));
    keyFile = join(keyDir, 'id_ed25519');
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    await hub.hub.registry.peers.add({ name: 'router', sshKey: parseSshPublicKey(pair.public) });
    await hub.hub.registry.peers.add({ name: 'other' });
  });

  afterAll(async () => {
    await hub?.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  async function peerTableJson(): Promise<unknown> {
    const result = await runHubCli(hub.stateDir, ['peer', 'table', 'router', '--json']);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  }

  async function refusedUnchanged(run: () => Promise<ExecResult>, code: string, exit: number): Promise<void> {
    const before = await hub.hub.registry.exportTables();
    const upserts = hub.datapath.upserts;
    const result = await run();
    expect(result.code).toBe(exit);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^${code}: [^\\n]+\\n$`));
    expect(await hub.hub.registry.exportTables()).toEqual(before);
    expect(hub.datapath.upserts).toBe(upserts);
  }

  it('`table` over stock OpenSSH prints, as JSON, what `tunnel-hub peer table NAME --json` prints, changing nothing', async () => {
    const before = await hub.hub.registry.exportTables();
    const result = await opensshExec(hub.hub.sshPort, 'router', keyFile, 'table --json');
    expect(result.code, result.stderr).toBe(0);
    const tables = JSON.parse(result.stdout) as unknown[];
    expect(tables).toHaveLength(1);
    expect(tables[0]).toEqual(await peerTableJson());
    expect(await hub.hub.registry.exportTables()).toEqual(before);
    const text = await opensshExec(hub.hub.sshPort, 'router', keyFile, 'table');
    expect(text.stdout).toMatch(/My end\s+The other end/);
    expect(text.stdout).toMatch(/Public IP address\s+\(not known yet\)\s+198\.51\.100\.1/);
  });

  it('`endpoint` records the seen address, applies the hub end at once and prints the new table (ssh2 and OpenSSH)', async () => {
    const result = await sshExec(hub.hub.sshPort, 'router', privateKey, 'endpoint --json');
    expect(result.code, result.stderr).toBe(0);
    const [table] = JSON.parse(result.stdout) as { ends: { name: string; public: string | null }[] }[];
    expect(table?.ends[1]).toMatchObject({ name: 'router', public: '127.0.0.1' });
    expect(table).toEqual(await peerTableJson());
    expect(hub.datapath.tunnels.get('tnl-router')).toMatchObject({ encap: 'gre', remote: '127.0.0.1', local: '198.51.100.1' });
    expect((await hub.hub.registry.endpoints.latest('router'))?.address).toBe('127.0.0.1');
    const status = (await hub.hub.status()).peers.find((peer) => peer.name === 'router');
    expect(status).toMatchObject({ connected: false, endpoint: { seen: '127.0.0.1' }, encap: 'gre', encapReason: 'public', nat: false });

    const again = await opensshExec(hub.hub.sshPort, 'router', keyFile, 'endpoint 127.0.0.1');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/Public IP address\s+127\.0\.0\.1\s+198\.51\.100\.1/);
  });

  it('refuses an address it did not see, bad addresses and unknown commands with one coded line, changing nothing', async () => {
    await refusedUnchanged(() => opensshExec(hub.hub.sshPort, 'router', keyFile, 'endpoint 203.0.113.99'), 'ERR_ENDPOINT_UNVERIFIED', 1);
    await refusedUnchanged(() => sshExec(hub.hub.sshPort, 'router', privateKey, 'endpoint 203.0.113.99 --json'), 'ERR_ENDPOINT_UNVERIFIED', 1);
    await refusedUnchanged(() => sshExec(hub.hub.sshPort, 'router', privateKey, 'endpoint 300.1.2.3'), 'ERR_INVALID_ADDRESS', 1);
    await refusedUnchanged(() => sshExec(hub.hub.sshPort, 'router', privateKey, 'endpoint 127.0.0.1 127.0.0.2'), 'ERR_INVALID_ARGUMENT', 2);
    await refusedUnchanged(() => sshExec(hub.hub.sshPort, 'router', privateKey, 'table extra'), 'ERR_INVALID_ARGUMENT', 2);
    await refusedUnchanged(() => sshExec(hub.hub.sshPort, 'router', privateKey, 'config windows'), 'ERR_INVALID_ARGUMENT', 2);
    await refusedUnchanged(() => opensshExec(hub.hub.sshPort, 'router', keyFile, 'reboot now'), 'ERR_INVALID_ARGUMENT', 2);
    await refusedUnchanged(() => sshExec(hub.hub.sshPort, 'router', privateKey, `endpoint ${'x'.repeat(300)}`), 'ERR_INVALID_ARGUMENT', 2);
  });

  it('prints every link after `link add`, and kernel commands for Linux and the BSDs', async () => {
    const added = await runHubCli(hub.stateDir, ['link', 'add', 'router', 'other']);
    expect(added.code, added.stderr).toBe(0);
    const result = await opensshExec(hub.hub.sshPort, 'router', keyFile, 'table --json');
    const tables = JSON.parse(result.stdout) as { ends: { name: string }[] }[];
    expect(tables.map((t) => t.ends.map((e) => e.name))).toEqual([['hub', 'router'], ['router', 'other']]);
    expect(tables[0]).toEqual(await peerTableJson());
    const linux = await sshExec(hub.hub.sshPort, 'router', privateKey, 'config linux');
    expect(linux.code, linux.stderr).toBe(0);
    expect(linux.stdout).toMatch(/^# link 10\.1\.12\.\d+\/30 to hub \(gre[^)]*\)\nip link add tnl-hub type gre .*remote 198\.51\.100\.1/m);
    const freebsd = await sshExec(hub.hub.sshPort, 'router', privateKey, 'config freebsd');
    expect(freebsd.stdout).toMatch(/ifconfig gre\d? create/);
    // The other end was never seen: no remote to print, so the kernel config says why.
    expect(linux.stdout).toMatch(/^# link \S+ to other \(gre[^)]*\)\n# not rendered: ERR_STATE: .*"other".*not known yet/m);
  });
});
