import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubProcess } from '../../bench/hub-process.js';
import type { MemberSwarm, SwarmMembers, SwarmReflector } from '../../bench/member-swarm.js';
import { repoRoot } from '../helpers/netns.js';
import { netnsUnavailableReason } from '../helpers/root.js';
import { swarmPeers } from '../helpers/swarm-peers.js';
import { waitUntil } from '../helpers/wait-until.js';

const skipReason = netnsUnavailableReason();
if (skipReason) console.warn(`SKIPPED member swarm tests: ${skipReason}`);

// Enough members that a per-member cost or leak shows; the test asserts counts and states, bench:hub-scale the timings.
const MEMBERS = 200;
// The harness starts its roles from dist/, so the test drives the built one (npm run build first).
const distUrl = (path: string): string => pathToFileURL(join(repoRoot(), 'dist', path)).href;
const { createMemberSwarm } = await import(distUrl('bench/member-swarm.js')) as typeof import('../../bench/member-swarm.js');
const { swarmMemberAddress } = await import(distUrl('bench/swarm-addresses.js')) as typeof import('../../bench/swarm-addresses.js');

interface PeerLine {
  name: string;
  connected: boolean;
  endpoint: { seen: string | null; reported: string | null };
  encap: string;
  encapReason: string | null;
}

describe.skipIf(skipReason !== null)('member swarm: simulated members from addresses of their own against a hub with its real datapath', () => {
  let swarm: MemberSwarm;
  let hub: HubProcess;
  let members: SwarmMembers;
  let reflector: SwarmReflector;
  let stateDir: string;

  beforeAll(async () => {
    swarm = await createMemberSwarm({ members: MEMBERS });
    stateDir = swarm.copyState('engine');
    reflector = await swarm.startReflector();
    // Keepalives every second, so liveness is seen within the test's time.
    hub = await swarm.startHub({ datapath: 'engine', stateDir, args: ['--path-keepalive', '1'] });
    members = await swarm.startMembers(hub);
  });

  afterAll(async () => {
    await swarm?.destroy();
  });

  it('every member joins from its own address and gets a GRE tunnel of its own on the hub', async () => {
    await members.join();
    expect(await swarm.awaitRegistryAcks(hub, 0, 60_000)).toBe(MEMBERS);
    const peers = swarmPeers<PeerLine>(stateDir);
    expect(peers.map((peer) => [peer.name, peer.connected, peer.endpoint.seen, peer.endpoint.reported, peer.encap, peer.encapReason]))
      .toEqual(Array.from({ length: MEMBERS }, (_, i) => [`m${i}`, true, swarmMemberAddress(i, 0), swarmMemberAddress(i, 0), 'gre', 'public']));
    expect(swarm.devices()).toEqual({ tun: MEMBERS, owned: MEMBERS });
  });

  it('a wait for acks that cannot come gives up saying, per member, what the registry holds against what was expected', async () => {
    // Every member reported generation 0: generation 1 never comes without a move.
    await expect(swarm.awaitRegistryAcks(hub, 1, 200)).rejects.toThrow(
      new RegExp(`${MEMBERS} of ${MEMBERS} short, such as m0: version (\\d+), acked \\1, reported ${swarmMemberAddress(0, 0)}, expected ${swarmMemberAddress(0, 1)}`.replaceAll('.', '\\.')));
  });

  it('the reflector answers every member\'s keepalives and the hub sees every tunnel go up', async () => {
    await waitUntil(() => hub.tunnelsUp() >= MEMBERS, 60_000, () => `every tunnel up at the hub (${hub.tunnelsUp()} of ${MEMBERS})`);
    expect(hub.tunnelsUp()).toBe(MEMBERS);
    const stats = await reflector.stats();
    expect(stats.addresses).toBe(MEMBERS);
    expect(stats.reflected).toBeGreaterThanOrEqual(MEMBERS);
  });

  it('a move storm: every member reconnects from a new address at once, and every new config is acked', async () => {
    await members.move();
    expect(await swarm.awaitRegistryAcks(hub, 1, 60_000)).toBe(MEMBERS);
    expect(swarmPeers<PeerLine>(stateDir).map((peer) => peer.endpoint.seen)).toEqual(Array.from({ length: MEMBERS }, (_, i) => swarmMemberAddress(i, 1)));
    expect(swarm.devices().owned).toBe(MEMBERS);
  });

  it('SIGTERM: the hub exits and leaves none of its devices behind', async () => {
    await members.closeAll();
    await hub.stop();
    expect(hub.exited()).toBe(true);
    await swarm.awaitNoDevices(0, 60_000);
    expect(swarm.devices()).toEqual({ tun: 0, owned: 0 });
  });

  it('destroy removes the swarm\'s namespaces', async () => {
    const prefix = swarm.topology.prefix;
    await swarm.destroy();
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(prefix);
  });
});
