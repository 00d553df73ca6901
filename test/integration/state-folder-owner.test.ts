import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HUB_CLI, runHubCli } from '../helpers/hub-cli.js';
import { unprivilegedUnavailableReason, unusedUid } from '../helpers/unprivileged.js';

const reason = unprivilegedUnavailableReason();
if (reason) console.warn(`SKIPPING the state folder owner test: ${reason}`);

describe.skipIf(reason !== null)('a state folder that belongs to a service user', () => {
  const parent = mkdtempSync(join(tmpdir(), 'tunnel-owner-'));
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it('works for its user, and root is refused it with the command to use, creating nothing', async () => {
    chmodSync(parent, 0o755);
    const uid = unusedUid();
    const dir = join(parent, 'hub');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, uid, uid);
    const asUser = spawnSync('setpriv', ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', process.execPath, HUB_CLI, '--state', dir, 'init', '--endpoint', '192.0.2.1'], { encoding: 'utf8' });
    expect(asUser.status, asUser.stderr).toBe(0);

    const asRoot = await runHubCli(dir, ['invite', 'create']);
    expect(asRoot).toMatchObject({ code: 1, stdout: '' });
    expect(asRoot.stderr).toBe(`tunnel-hub: ERR_STATE: ${dir} belongs to user ${uid} (the service runs as it); run the command as that user, e.g. \`sudo -u ${uid} tunnel-hub …\`, so the service can still open every file\n`);
    expect(existsSync(join(dir, 'registry.sqlite-wal'))).toBe(false);
    for (const file of ['registry.sqlite', 'hub-signing-key.pem']) expect(statSync(join(dir, file)).uid).toBe(uid);
  });
});
