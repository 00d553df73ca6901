import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readClientState } from '../../client/client-state.js';
import { runMember } from '../../client/session/run-member.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testLogger, withHub, type TestHub } from '../helpers/with-hub.js';
import { generateEd25519KeyPair } from '../../shared/ssh/generate-ed25519-key-pair.js';

const never = new Promise<never>(() => undefined);
const hubCli = join(process.cwd(), 'dist/server/cli.js');

describe('join over SSH', () => {
  let hub: TestHub;
  let dir: string;

  beforeEach(async () => {
    hub = await withHub();
    dir = mkdtempSync(join(tmpdir(), 'tunnel-ssh-test-'));
  });
  afterEach(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('joins with a key registered by `tunnel-hub peer add --ssh-key`, pins the host key, and `run` resumes', async () => {
    const pair = generateEd25519KeyPair('dave@test');
    const keyFile = join(dir, 'id_ed25519');
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    execFileSync(process.execPath, [hubCli, '--state', hub.stateDir, 'peer', 'add', 'dave', '--ssh-key', pair.public], { stdio: 'pipe' });

    const stateDir = join(dir, 'client');
    const datapath = new MemoryClientDatapath();
    const url = `ssh://dave@127.0.0.1:${hub.hub.sshPort}`;
    await runMember({ stateDir, datapath, log: testLogger, join: { url, keyFile }, once: true, stopped: never });
    const state = readClientState(stateDir);
    expect(state).toMatchObject({ peer: 'dave', hub: { url, hubId: hub.hub.hubId } });
    expect(datapath.tunnels.get('tnl-hub')).toMatchObject({ address: '10.1.12.2/30', peerAddress: '10.1.12.1' });
    expect(hub.datapath.tunnels.get('tnl-dave')?.remote).toBe('127.0.0.1');
    const live = hub.hub.plane.liveState().get('dave');
    expect(live).toMatchObject({ transport: 'ssh', auth: 'ssh-key' });

    let stop!: () => void;
    const running = runMember({ stateDir, datapath: new MemoryClientDatapath(), log: testLogger, stopped: new Promise<void>((r) => (stop = r)) });
    await waitUntil(() => hub.hub.plane.liveState().get('dave')?.connected && hub.hub.plane.liveState().get('dave')?.session !== live?.session, 10_000, 'run over ssh');
    stop();
    await running;
  });

  it('refuses to connect when the hub host key changed since the join', async () => {
    const pair = generateEd25519KeyPair('test');
    const keyFile = join(dir, 'id');
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    await hub.hub.registry.peers.add({ name: 'erin', sshKey: (await import('../../server/auth/ssh-public-key.js')).parseSshPublicKey(pair.public) });
    const stateDir = join(dir, 'client');
    await runMember({ stateDir, datapath: new MemoryClientDatapath(), log: testLogger, join: { url: `ssh://erin@127.0.0.1:${hub.hub.sshPort}`, keyFile }, once: true, stopped: never });
    const state = readClientState(stateDir);
    writeFileSync(join(stateDir, 'client.json'), JSON.stringify({ ...state, hub: { ...state?.hub, hubId: 'SHA256:someone-else' } }));
    await expect(runMember({ stateDir, datapath: new MemoryClientDatapath(), log: testLogger, stopped: never }))
      .rejects.toMatchObject({ code: 'ERR_UNAUTHENTICATED' });
  });
});
