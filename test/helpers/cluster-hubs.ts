import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinCluster } from '../../server/hub-state/join-cluster.js';
import { MemoryDatapath } from '../../server/hub/memory-datapath.js';
import { startHub, type RunningHub } from '../../server/hub/start-hub.js';
import type { SessionTiming } from '../../server/control/session-keepalives.js';
import type { PathOptions } from '../../server/control/control-plane.js';
import { testLogger } from './with-hub.js';

/** One hub of a test cluster: its state folder, in-memory datapath and (while running) the hub. */
export interface ClusterTestHub {
  readonly name: string;
  readonly endpoint: string;
  readonly stateDir: string;
  datapath: MemoryDatapath;
  hub: RunningHub | undefined;
  readonly wsUrl: string;
  /** Starts (or starts again, on the same ports once it had some) the hub on 127.0.0.1. */
  start(): Promise<RunningHub>;
  stop(): Promise<void>;
}

/**
 * Joins a hub named `name` to the cluster at `registry` (`init --registry`), ready to start on
 * a loopback address (`listen`, default 127.0.0.1: give the endpoint when members must reach the
 * hub at the URL the cluster lists) with ephemeral ports. `remove()` of the returned set stops every hub and deletes the
 * state folders.
 */
export async function clusterHub(registry: string, name: string, endpoint: string,
  options: { pool?: string; timing?: SessionTiming; listen?: string; paths?: PathOptions } = {}): Promise<ClusterTestHub> {
  const listen = options.listen ?? '127.0.0.1';
  const stateDir = mkdtempSync(join(tmpdir(), `tunnel-cluster-${name}-`));
  await joinCluster(stateDir, { registry, hubName: name, endpoint, ...(options.pool ? { pool: options.pool } : {}) });
  let ports = { wsPort: 0, sshPort: 0 };
  const hub: ClusterTestHub = {
    name, endpoint, stateDir,
    datapath: new MemoryDatapath(),
    hub: undefined,
    get wsUrl() {
      if (!this.hub) throw new Error(`hub ${name} is not running`);
      return `ws://${listen}:${this.hub.wsPort}`;
    },
    start: async () => {
      hub.datapath = new MemoryDatapath();
      const running = await startHub({
        stateDir, listen, ...ports, datapath: () => hub.datapath, log: testLogger,
        ...(options.timing ? { timing: options.timing } : {}),
        ...(options.paths ? { paths: options.paths } : {}),
      });
      ports = { wsPort: running.wsPort, sshPort: running.sshPort };
      hub.hub = running;
      return running;
    },
    stop: async () => {
      const running = hub.hub;
      hub.hub = undefined;
      await running?.close();
    },
  };
  return hub;
}

/** Stops the hubs and removes their state folders. */
export async function removeClusterHubs(hubs: ClusterTestHub[]): Promise<void> {
  for (const hub of hubs) {
    await hub.stop();
    rmSync(hub.stateDir, { recursive: true, force: true });
  }
}
