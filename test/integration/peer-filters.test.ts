import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMember } from '../../client/session/run-member.js';
import type { HubStatus } from '../../server/hub/hub-status.js';
import type { PeerListEntry } from '../../server/hub/peer-list-report.js';
import { readStatusSocket, statusSocketPath } from '../../server/hub/status-socket.js';
import { HUB_CLI, registrySnapshot, runHubCli } from '../helpers/hub-cli.js';
import { MemoryClientDatapath } from '../helpers/memory-client-datapath.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testLogger, withHub, type TestHub } from '../helpers/with-hub.js';

/** One raw exchange with the status socket: what the client writes (nothing: null), and the hub's answer. */
function rawExchange(path: string, request: string | null): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    socket.on('connect', () => {
      if (request !== null) socket.end(request);
    });
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(JSON.parse(text)));
    socket.on('error', reject);
  });
}

// Three peers on a running hub: alice connected, bob never seen, carol seen at 192.0.2.77; links
// alice<->bob and bob<->carol.
describe('peer list and status with --state and --filter', () => {
  let hub: TestHub;
  let memberState: string;
  let stop!: () => void;
  let member: Promise<void>;

  beforeAll(async () => {
    hub = await withHub();
    memberState = mkdtempSync(join(tmpdir(), 'tunnel-client-test-'));
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    member = runMember({ stateDir: memberState, datapath: new MemoryClientDatapath(), log: testLogger, join: { url: hub.wsUrl, token: await hub.invite(), name: 'alice' }, stopped });
    const registry = hub.hub.registry;
    await waitUntil(() => hub.hub.plane.liveState().get('alice')?.connected, 10_000, 'alice\'s session');
    await registry.peers.add({ name: 'bob' });
    await registry.peers.add({ name: 'carol' });
    await registry.endpoints.record('carol', { address: '192.0.2.77', source: 'observed' });
    await registry.links.addPeerLink('alice', 'bob');
    await registry.links.addPeerLink('bob', 'carol');
  });
  afterAll(async () => {
    stop();
    await member;
    await hub.close();
    rmSync(memberState, { recursive: true, force: true });
  });

  async function peerList(...args: string[]): Promise<PeerListEntry[]> {
    const result = await runHubCli(hub.stateDir, ['peer', 'list', ...args, '--json']);
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as PeerListEntry[];
  }

  async function status(...args: string[]): Promise<HubStatus> {
    const result = await runHubCli(hub.stateDir, ['status', ...args, '--json']);
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as HubStatus;
  }

  it('peer list --json gives every peer the registry lists, with its state from the running hub', async () => {
    const peers = await peerList();
    expect(peers.map((peer) => [peer.name, peer.state])).toEqual([['alice', 'up'], ['bob', 'down'], ['carol', 'down']]);
    const registry = await hub.hub.registry.peers.list();
    expect(peers.map(({ state: _state, ...summary }) => summary)).toEqual(registry);
    expect(peers.find((peer) => peer.name === 'carol')).toMatchObject({ public: '192.0.2.77', inner: '10.1.12.10' });
  });

  it('peer list selects by state, by a part of the name, inner address or public address, and by both', async () => {
    const names = async (...args: string[]): Promise<string[]> => (await peerList(...args)).map((peer) => peer.name);
    expect(await names('--state', 'up')).toEqual(['alice']);
    expect(await names('--state', 'down')).toEqual(['bob', 'carol']);
    expect(await names('--filter', 'ALI')).toEqual(['alice']);
    expect(await names('--filter', '10.1.12.6')).toEqual(['bob']);
    expect(await names('--filter', '10.1.12.')).toEqual(['alice', 'bob', 'carol']);
    expect(await names('--filter', '192.0.2.77')).toEqual(['carol']);
    expect(await names('--state', 'up', '--filter', 'carol')).toEqual([]);
    expect(await names('--filter', 'o', '--state', 'down')).toEqual(['bob', 'carol']);
  });

  it('peer list prints the state as a column, and says when nothing matches', async () => {
    const all = await runHubCli(hub.stateDir, ['peer', 'list']);
    expect(all.code).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +STATE +HUB LINK +ADDRESS +PUBLIC/);
    expect(lines.slice(1).map((line) => line.split(/ +/).slice(0, 2))).toEqual([['alice', 'up'], ['bob', 'down'], ['carol', 'down']]);
    expect((await runHubCli(hub.stateDir, ['peer', 'list', '--filter', 'zzz'])).stdout).toBe('no peer matches --state/--filter\n');
  });

  it('status --json keeps the peers selected and the peer links with an end among them', async () => {
    const up = await status('--state', 'up');
    expect(up.hub.running).toBe(true);
    expect(up.peers.map((peer) => [peer.name, peer.connected])).toEqual([['alice', true]]);
    expect(up.links.map((link) => link.ends)).toEqual([['alice', 'bob']]);
    const carol = await status('--filter', '192.0.2.77');
    expect(carol.peers.map((peer) => peer.name)).toEqual(['carol']);
    expect(carol.links.map((link) => link.ends)).toEqual([['bob', 'carol']]);
    const everyone = await status();
    expect(everyone.peers.map((peer) => peer.name)).toEqual(['alice', 'bob', 'carol']);
    expect((await status('--state', 'down')).peers).toEqual(everyone.peers.filter((peer) => !peer.connected));
    const text = await runHubCli(hub.stateDir, ['status', '--filter', 'nobody']);
    expect(text.stdout).toContain('no peer matches --state/--filter');
  });

  it('refuses a bad --state or --filter with one coded line, reading and changing nothing', async () => {
    const before = await registrySnapshot(hub.stateDir);
    const cases = [['peer', 'list'], ['status']].flatMap((command) => [
      ['--state', 'sideways'], ['--state', ''], ['--state', 'UP'], ['--filter', ''], ['--filter', 'x'.repeat(65)], ['--filter', 'a\tb'],
    ].map((bad) => ({ command, bad })));
    const results = await Promise.all(cases.map(({ command, bad }) => runHubCli(hub.stateDir, [...command, ...bad, '--json'])));
    results.forEach((result, i) => {
      const { command, bad } = cases[i]!;
      expect({ command, bad, code: result.code, stdout: result.stdout }).toEqual({ command, bad, code: 1, stdout: '' });
      expect(result.stderr).toMatch(new RegExp(`^tunnel-hub: ERR_INVALID_ARGUMENT: ${bad[0]} [^\\n]+\\n$`));
    });
    expect(await registrySnapshot(hub.stateDir)).toEqual(before);
  });

  it('takes the state folder after any other command, and says where it goes after peer list and status', async () => {
    const after = await new Promise<{ code: number; stdout: string }>((done) => {
      execFile(process.execPath, [HUB_CLI, 'pool', 'list', '--json', '--state', hub.stateDir], (err, stdout) => done({ code: err ? 1 : 0, stdout }));
    });
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toEqual(JSON.parse((await runHubCli(hub.stateDir, ['pool', 'list', '--json'])).stdout));
    const before = await registrySnapshot(hub.stateDir);
    const folderAsPeerState = await runHubCli(hub.stateDir, ['peer', 'list', '--state', hub.stateDir]);
    expect(folderAsPeerState.code).toBe(1);
    expect(folderAsPeerState.stderr).toMatch(/^tunnel-hub: ERR_INVALID_ARGUMENT: --state "[^"]*" must be up or down \(the state folder goes before the command: tunnel-hub --state DIR …\)\n$/);
    expect(await registrySnapshot(hub.stateDir)).toEqual(before);
  });

  it('the status socket refuses a bad request with a coded answer and keeps serving', async () => {
    const path = statusSocketPath(hub.stateDir);
    const before = await registrySnapshot(hub.stateDir);
    for (const bad of ['nonsense\n', '{"view":"status","state":"sideways"}\n', `${'x'.repeat(2048)}`]) {
      expect(await rawExchange(path, bad)).toEqual({ error: { code: 'ERR_INVALID_ARGUMENT', message: expect.any(String) } });
    }
    expect(await rawExchange(path, '{"view":"sessions"}\n')).toEqual({ sessions: ['alice'] });
    expect(((await readStatusSocket(path)) as HubStatus).peers).toHaveLength(3);
    expect(await registrySnapshot(hub.stateDir)).toEqual(before);
  });

  it('the status socket answers a client that sends nothing (its first protocol) with the whole status', async () => {
    const answer = await rawExchange(statusSocketPath(hub.stateDir), null) as HubStatus;
    expect(answer.peers.map((peer) => peer.name)).toEqual(['alice', 'bob', 'carol']);
  });
});
