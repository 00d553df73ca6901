/**
 * bench:kernel-config: how long configuring N members' TUN devices takes through `ip` and through
 * rtnetlink, and how long the event loop stands still meanwhile. Each run gets a namespace of its
 * own with N fresh persistent TUN devices (bench/kernel-config-run.ts does the work inside).
 *   npm run bench:kernel-config -- [--members N] [--only ip|rtnetlink] [--json]
 * With --shared-device, the N members' /30s go on one device instead, as addresses with a peer
 * and as routes (bench/kernel-config-shared-run.ts), each way in a namespace of its own.
 */
import { cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createNamespaces, deleteNamespaces, startNodeIn, uniquePrefix } from '../test/helpers/netns.js';
import { netnsUnavailableReason } from '../test/helpers/root.js';

const RUNS = [
  { implementation: 'ip', mode: 'per-change' },
  { implementation: 'ip', mode: 'per-member' },
  { implementation: 'rtnetlink', mode: 'per-change' },
  { implementation: 'rtnetlink', mode: 'per-member' },
  { implementation: 'rtnetlink', mode: 'all-at-once' },
] as const;

const RUN_FILE = fileURLToPath(new URL('./kernel-config-run.js', import.meta.url));
const SHARED_RUN_FILE = fileURLToPath(new URL('./kernel-config-shared-run.js', import.meta.url));

interface SharedRunResult {
  way: 'addresses' | 'routes';
  members: number;
  changes: number;
  refused: number;
  firstRefusal: string | null;
  addMs: number;
  usPerMember: number;
  cpuMs: number;
  routes: number;
  deleteMs: number;
  deleted: boolean;
}

interface RunResult {
  implementation: string;
  mode: string;
  changes: number;
  refused: number;
  firstRefusal: string | null;
  elapsedMs: number;
  usPerChange: number;
  cpuMs: number;
  longestStallMs: number;
  stalledMs: number;
  timerTicks: number;
  verified: { routes: number; lastMtu: number; lastUp: boolean; lastForwarding: boolean };
}

async function main(): Promise<void> {
  const reason = netnsUnavailableReason();
  if (reason) {
    console.error(`bench:kernel-config cannot run: ${reason}`);
    process.exitCode = 1;
    return;
  }
  const args = process.argv.slice(2);
  const membersAt = args.indexOf('--members');
  const members = membersAt >= 0 ? Number(args[membersAt + 1]) : 1000;
  if (!Number.isInteger(members) || members < 1 || members > 16384) throw new Error('--members must be an integer from 1 to 16384');
  const json = args.includes('--json');
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
  if (only !== undefined && only !== 'ip' && only !== 'rtnetlink') throw new Error('--only must be ip or rtnetlink');
  process.on('SIGINT', () => process.exit(130)); // runs the helper's exit hook: namespaces go
  if (args.includes('--shared-device')) {
    await sharedDeviceRuns(members, json);
    return;
  }

  console.log(`kernel configuration benchmark: ${members} members x 5 changes (MTU, /30 with peer, up, forwarding, one route), ` +
    `${cpus().length} x ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('implementation  mode          changes  refused  elapsed ms  us/change  cpu ms  longest stall ms  stalled ms  verified');
  const results: RunResult[] = [];
  for (const { implementation, mode } of RUNS.filter((run) => only === undefined || run.implementation === only)) {
    const namespace = `${uniquePrefix()}bkc`;
    createNamespaces([namespace]);
    try {
      const started = startNodeIn(namespace, RUN_FILE, [implementation, mode, String(members)], 900_000);
      const result = (await started.result) as RunResult;
      results.push(result);
      const { verified } = result;
      const ok = verified.routes === members && verified.lastMtu === 1476 && verified.lastUp && verified.lastForwarding;
      console.log([
        implementation.padEnd(14), mode.padEnd(12), String(result.changes).padStart(8), String(result.refused).padStart(8),
        String(result.elapsedMs).padStart(11), String(result.usPerChange).padStart(10), String(result.cpuMs).padStart(7),
        String(result.longestStallMs).padStart(17), String(result.stalledMs).padStart(11), ok ? '  yes' : `  NO (${JSON.stringify(verified)})`,
      ].join(' '));
      if (result.firstRefusal !== null) console.log(`  first refusal: ${result.firstRefusal}`);
    } finally {
      deleteNamespaces([namespace]);
    }
  }
  console.log(
    'per-change: await apply of one change at a time, as the engine configured before its changes were batched;\n' +
      'per-member: await apply of a member\'s five changes, member after member; all-at-once: one apply of everything.\n' +
      'longest stall: the longest the event loop went without running a 1 ms timer; stalled: the sum of every tick\'s\n' +
      'lateness beyond 1 ms. cpu ms: this process\'s own CPU (ip\'s children not included).',
  );
  if (json) console.log(JSON.stringify({ members, results }));
}

/** The members' /30s on one shared device: as addresses with a peer, then as a local route and a route with a source each. */
async function sharedDeviceRuns(members: number, json: boolean): Promise<void> {
  console.log(`shared device benchmark: ${members} members' /30s on one TUN through rtnetlink, ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ` +
    `Linux ${release()}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('way        members  changes  refused  add ms  us/member  cpu ms  routes on device  delete device ms');
  const results: SharedRunResult[] = [];
  for (const way of ['addresses', 'routes'] as const) {
    const namespace = `${uniquePrefix()}bks`;
    createNamespaces([namespace]);
    try {
      const result = (await startNodeIn(namespace, SHARED_RUN_FILE, [way, String(members)], 900_000).result) as SharedRunResult;
      results.push(result);
      console.log([
        way.padEnd(10), String(members).padStart(7), String(result.changes).padStart(8), String(result.refused).padStart(8),
        String(result.addMs).padStart(7), String(result.usPerMember).padStart(10), String(result.cpuMs).padStart(7),
        String(result.routes).padStart(17), String(result.deleteMs).padStart(17), result.deleted ? '' : '  (not deleted)',
      ].join(' '));
      if (result.firstRefusal !== null) console.log(`  first refusal: ${result.firstRefusal}`);
    } finally {
      deleteNamespaces([namespace]);
    }
  }
  console.log(
    'addresses: `addr add HUB peer MEMBER/30` per member (the kernel adds a local, a prefix and a broadcast route for each);\n' +
      'routes: `route add local HUB/32 table local` and `route add NET/30 src HUB` per member. One apply of everything.\n' +
      `load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
  );
  if (json) console.log(JSON.stringify({ members, sharedDevice: results }));
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exitCode = 1;
});
