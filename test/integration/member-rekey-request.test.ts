import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runMember } from '../../client/session/run-member.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testLogger, withHub, type TestHub } from '../helpers/with-hub.js';

const hubCli = join(process.cwd(), 'dist/server/cli.js');

/** A member datapath whose engine can say a tunnel's outbound SA is due for a rekey. */
class RekeyingDatapath extends MemoryClientDatapath {
  due: ((name: string) => void) | undefined;

  onRekeyDue(due: (name: string) => void): void {
    this.due = due;
  }
}

describe('a member\'s engine says an SA is due: the session asks the hub to rekey', () => {
  let hub: TestHub;
  let dir: string;

  beforeEach(async () => {
    hub = await withHub();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-rekey-request-'));
  });
  afterEach(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends rekey {tunnel} on the open session, and nothing while none is open', async () => {
    const pair = generateEd25519KeyPair('test');
    const keyFile = join(dir, 'id');
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    execFileSync(process.execPath, [hubCli, '--state', hub.stateDir, 'peer', 'add', 'frank', '--ssh-key', pair.public], { stdio: 'pipe' });
    const asked = vi.spyOn(hub.hub.plane, 'rekeyRequested');
    const datapath = new RekeyingDatapath();
    let stop!: () => void;
    const running = runMember({
      stateDir: join(dir, 'client'), datapath, log: testLogger,
      join: { url: `ssh://frank@127.0.0.1:${hub.hub.sshPort}`, keyFile }, stopped: new Promise<void>((resolve) => (stop = resolve)),
    });
    try {
      await waitUntil(() => datapath.tunnels.has('tnl-hub') && hub.hub.plane.liveState().get('frank')?.connected, 10_000, 'frank joined');
      expect(datapath.due).toBeDefined();
      datapath.due!('tnl-hub');
      await waitUntil(() => asked.mock.calls.length > 0, 5_000, 'the rekey request at the hub');
      expect(asked.mock.calls[0]![1]).toBe('tnl-hub');
      expect(asked.mock.calls[0]![0].peer).toBe('frank');
    } finally {
      stop();
      await running;
    }
    const calls = asked.mock.calls.length;
    datapath.due!('tnl-hub');
    await new Promise((resolve) => setTimeout(resolve, 200)); // time for a request that must not come
    expect(asked.mock.calls.length).toBe(calls);
  });
});
