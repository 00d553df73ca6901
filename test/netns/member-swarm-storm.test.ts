import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubProcess } from '../../bench/hub-process.js';
import type { AdminProbe, MemberSwarm, SwarmMembers } from '../../bench/member-swarm.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';
import { repoRoot } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { swarmPeers } from '../helpers/swarm-peers.js';
import { waitUntil } from '../helpers/wait-until.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED member swarm storm tests: ${skipReason}`);

// 200 members move 5 times each: 1,000 changes; 50 more stay where they are and must notice nothing.
const MOVERS = 200;
const QUIET = 50;
const ROUNDS = 5;
const MEMBERS = MOVERS + QUIET;
// The harness starts its roles from dist/, so the test drives the built one (npm run build first).
const distUrl = (path: string): string => pathToFileURL(join(repoRoot(), 'dist', path)).href;
const { createMemberSwarm } = await import(distUrl('bench/member-swarm.js')) as typeof import('../../bench/member-swarm.js');
const { swarmMemberAddress } = await import(distUrl('bench/swarm-addresses.js')) as typeof import('../../bench/swarm-addresses.js');

interface PeerLine {
  name: string;
  connected: boolean;
  endpoint: { seen: string | null };
}

/** The hub's JSON log lines from byte `from` on. */
function logLinesFrom(file: string, from: number): { msg: string; peer?: string; tunnel?: string; state?: string }[] {
  return readFileSync(file).subarray(from).toString('utf8').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as never);
}

describe.skipIf(skipReason !== null)('a storm of 1,000 changes against a hub with its real datapath', () => {
  let swarm: MemberSwarm;
  let hub: HubProcess;
  let members: SwarmMembers;
  let probe: AdminProbe;
  let stateDir: string;
  let logFile: string;

  beforeAll(async () => {
    swarm = await createMemberSwarm({ members: MEMBERS });
    stateDir = swarm.copyState('engine');
    await swarm.startReflector();
    // Keepalives every second and down after a few missed: a hub held up for seconds shows as liveness lost.
    hub = await swarm.startHub({ datapath: 'engine', stateDir, args: ['--path-keepalive', '1'] });
    logFile = join(swarm.workDir, readdirSync(swarm.workDir).find((name) => /^hub-\d+-engine\.log$/.test(name))!);
    probe = await swarm.startAdminProbe(hub);
    members = await swarm.startMembers(hub);
    await members.join();
    await swarm.awaitRegistryAcks(hub, 0, 60_000);
    await waitUntil(() => hub.tunnelsUp() >= MEMBERS, 60_000, () => `every tunnel up at the hub (${hub.tunnelsUp()} of ${MEMBERS})`);
  }, 240_000);

  afterAll(async () => {
    await swarm?.destroy();
  });

  it('every mover\'s last move is acked; the quiet members keep their sessions and tunnels; the admin listener answers throughout', async () => {
    const quiet = Array.from({ length: QUIET }, (_, i) => `m${MOVERS + i}`);
    const quietTunnels = new Set(quiet.map((name) => tunnelInterfaceName(name)));
    const logFrom = statSync(logFile).size;
    const before = await members.stats();
    await probe.take();

    for (let round = 0; round < ROUNDS; round++) await members.move(undefined, MOVERS);
    await swarm.awaitRegistryAcks(hub, (i) => members.generationOf(i), 60_000);
    const answers = await probe.take();
    const after = await members.stats();

    // 1,000 changes, each acked: every mover took at least one config per move.
    expect(members.generationOf(0)).toBe(ROUNDS);
    expect(members.generationOf(MOVERS)).toBe(0);
    expect(after.configs - before.configs).toBeGreaterThanOrEqual(MOVERS * ROUNDS);
    const peers = swarmPeers<PeerLine>(stateDir);
    expect(peers.map((peer) => [peer.name, peer.connected, peer.endpoint.seen]))
      .toEqual(Array.from({ length: MEMBERS }, (_, i) => [`m${i}`, true, swarmMemberAddress(i, i < MOVERS ? ROUNDS : 0)]));
    expect(swarm.devices().owned).toBe(MEMBERS);

    // The quiet members noticed nothing: no session of theirs closed, no tunnel of theirs lost liveness
    // (the log names their tunnels so: each came up before the storm).
    const upBefore = new Set(logLinesFrom(logFile, 0).filter((line) => line.msg === 'tunnel liveness changed' && line.state === 'up').map((line) => line.tunnel));
    expect(quiet.filter((name) => !upBefore.has(tunnelInterfaceName(name)))).toEqual([]);
    const lines = logLinesFrom(logFile, logFrom);
    expect(lines.filter((line) => line.msg === 'session closed' && quiet.includes(line.peer!))).toEqual([]);
    expect(lines.filter((line) => line.msg === 'tunnel liveness changed' && quietTunnels.has(line.tunnel!))).toEqual([]);
    expect(lines.filter((line) => line.msg === 'session closed').length).toBeGreaterThanOrEqual(MOVERS * ROUNDS);
    expect(after.connected).toBe(MEMBERS);

    // The admin listener answered every request made during the storm.
    expect(answers.count).toBeGreaterThan(0);
    expect(answers.failures).toBe(0);

    // And every moved tunnel comes up on its last address.
    await waitUntil(() => hub.tunnelsUp() >= MEMBERS, 60_000, () => `every tunnel up at the hub (${hub.tunnelsUp()} of ${MEMBERS})`);
  }, 180_000);
});
