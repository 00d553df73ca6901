/**
 * bench:control (b): 1,000 simulated members against one hub process with no datapath
 * (`serve --datapath none`), all over WebSocket with peer tokens. Phase 1: every member joins
 * (hello, config, ack). Phase 2: every member reports a new endpoint at once; measured until the
 * registry has recorded every member's ack of its new config. Prints the hub's peak RSS.
 */
import { readFileSync } from 'node:fs';
import { openHubState } from '../server/hub-state/hub-state.js';
import { configWhere, connectMembers, prepareLoadState, startLoadHub, waitUntil, type SimulatedMember } from './simulated-members.js';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 1000);
const CONNECT_CONCURRENCY = 100;
const PHASE_TIMEOUT_MS = 120_000;

async function main(): Promise<void> {
  const { dir, tokens } = await prepareLoadState(MEMBERS, '10.64.0.0/16');
  const hub = await startLoadHub(dir);
  let members: SimulatedMember[] = [];
  try {
    const joinStart = performance.now();
    members = await connectMembers(hub.url, tokens, CONNECT_CONCURRENCY);
    const joinMs = performance.now() - joinStart;

    const registry = (await openHubState(dir)).registry;
    const acked = async (version: number): Promise<number> => {
      let count = 0;
      for (const m of members) {
        const link = await registry.links.hubLinkOf(m.name);
        if (((await registry.specs.versions(m.name, link.id))?.peer.acked ?? 0) >= version) count += 1;
      }
      return count;
    };
    await waitUntil(async () => (await acked(1)) === MEMBERS || undefined, PHASE_TIMEOUT_MS, 'join acks');

    const reportStart = performance.now();
    members.forEach((member, i) => member.ws.send(JSON.stringify({ v: 1, type: 'report', endpoint: { address: `192.0.2.${(i % 254) + 1}` } })));
    await Promise.all(members.map((member) => configWhere(member, (config) => config.version >= 2)));
    const configsMs = performance.now() - reportStart;
    await waitUntil(async () => (await acked(2)) === MEMBERS || undefined, PHASE_TIMEOUT_MS, 'report acks');
    const acksMs = performance.now() - reportStart;
    const peakRssKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${hub.hub.pid}/status`, 'utf8'))?.[1] ?? NaN);
    await registry.close();

    console.log(`control load: ${MEMBERS} members over WebSocket (peer tokens), hub with no datapath`);
    console.log(`  join (connect, hello, config, ack), ${CONNECT_CONCURRENCY} at a time: ${Math.round(joinMs)} ms`);
    console.log(`  all report a new endpoint at once: every new config received after ${Math.round(configsMs)} ms, every ack recorded in the registry after ${Math.round(acksMs)} ms`);
    console.log(`  hub peak RSS (VmHWM): ${(peakRssKiB / 1024).toFixed(1)} MiB`);
  } catch (err) {
    console.error(hub.errors().split('\n').slice(-5).join('\n'));
    throw err;
  } finally {
    for (const member of members) member.ws.terminate();
    await hub.close();
  }
}

await main();
