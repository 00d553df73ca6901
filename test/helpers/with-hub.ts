import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { initHubState } from '../../server/hub-state/init-hub-state.js';
import { openHubState } from '../../server/hub-state/hub-state.js';
import { createInvite } from '../../server/hub-state/create-invite.js';
import { issuePeerCredential } from '../../server/hub-state/issue-peer-credential.js';
import type { SessionTiming } from '../../server/control/session-keepalives.js';
import type { Dyndns2Limits } from '../../server/control/dyndns2-update.js';
import { MemoryDatapath } from '../../server/hub/memory-datapath.js';
import { startHub, type RunningHub, type StartHubOptions } from '../../server/hub/start-hub.js';
import type { RoutingMode } from '../../server/routing/member-route-specs.js';

/** The hub endpoint recorded in every test hub's registry (TEST-NET-2). */
export const TEST_HUB_ENDPOINT = '198.51.100.1';

/** A hub on loopback with ephemeral ports, a temp state folder and an in-memory datapath. */
export interface TestHub {
  hub: RunningHub;
  datapath: MemoryDatapath;
  stateDir: string;
  wsUrl: string;
  /** Signs an invite through the same code `tunnel-hub invite create` uses. */
  invite(options?: { ttlMs?: number; uses?: number }): Promise<string>;
  /** Signs a peer token for an existing peer (`peer add NAME --token`). */
  peerToken(name: string, ttlMs?: number): Promise<string>;
  /** Stops the hub (keeping the state folder) and starts it again on the same ports. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Quiet logs unless TUNNEL_TEST_LOG is set. */
export const testLogger = pino({ level: process.env.TUNNEL_TEST_LOG ?? 'silent' });

/**
 * Starts a hub for one test (like ssh2's setup harness): `init` with a pool, then `startHub` on
 * 127.0.0.1 port 0. `close()` stops it and removes the state folder.
 */
export async function withHub(options: {
  timing?: SessionTiming; stateDir?: string; routing?: RoutingMode; dyndnsLimits?: Dyndns2Limits; tls?: { certFile: string; keyFile: string };
  /** Makes the hub's datapath at each start (default: a plain MemoryDatapath). */
  datapath?: () => MemoryDatapath;
} & Pick<StartHubOptions, 'admin' | 'doors' | 'clock' | 'paths'> = {}): Promise<TestHub> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'tunnel-hub-test-'));
  await initHubState(stateDir, { endpoint: TEST_HUB_ENDPOINT, pool: '10.1.12.0/24' });
  const makeDatapath = options.datapath ?? (() => new MemoryDatapath());
  let datapath = makeDatapath();
  const start = (ports: { wsPort: number; sshPort: number }): Promise<RunningHub> => {
    datapath = makeDatapath();
    return startHub({
      stateDir, listen: '127.0.0.1', ...ports, datapath: () => datapath, log: testLogger,
      ...(options.timing ? { timing: options.timing } : {}),
      ...(options.routing ? { routing: options.routing } : {}),
      ...(options.admin ? { admin: options.admin } : {}),
      ...(options.doors ? { doors: options.doors } : {}),
      ...(options.dyndnsLimits ? { dyndnsLimits: options.dyndnsLimits } : {}),
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.paths ? { paths: options.paths } : {}),
    });
  };
  const test: TestHub = {
    hub: await start({ wsPort: 0, sshPort: 0 }),
    get datapath() { return datapath; },
    stateDir,
    get wsUrl() { return `ws://127.0.0.1:${this.hub.wsPort}`; },
    invite: async ({ ttlMs = 3_600_000, uses = 1 } = {}) => {
      const state = await openHubState(stateDir);
      try {
        return (await createInvite(state, { ttlMs, uses })).token;
      } finally {
        await state.close();
      }
    },
    peerToken: async (name, ttlMs = 3_600_000) => {
      const state = await openHubState(stateDir);
      try {
        return await issuePeerCredential(state, { name, ttlMs });
      } finally {
        await state.close();
      }
    },
    restart: async () => {
      const ports = { wsPort: test.hub.wsPort, sshPort: test.hub.sshPort };
      await test.hub.close();
      test.hub = await start(ports);
    },
    close: async () => {
      await test.hub.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return test;
}
