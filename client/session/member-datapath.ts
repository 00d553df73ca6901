import type { Logger } from 'pino';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import type { DatapathIo } from '../../shared/datapath/datapath-io.js';
import { controlSocketPath } from '../control/control-socket-path.js';
import { startControlServer } from '../control/control-server.js';
import { engineControlHandler } from '../control/engine-control-handler.js';
import { EngineClientDatapath } from './engine-client-datapath.js';

/** The member's datapath engine, answering `tunnel-client status` on its control socket. */
export interface MemberDatapath {
  datapath: EngineClientDatapath;
  /** Closes the control socket and removes every tunnel. */
  close(): Promise<void>;
  /** Removes every tunnel at once, without waiting for anything (a forced exit is next). */
  removeTunnelsNow(): void;
}

/**
 * Starts the engine for `join`/`run` and serves its status on `<state>/run/<pid>.sock` (role
 * `run`), so `tunnel-client status` lists the hub-driven tunnels beside any static `up` ones.
 */
export async function openMemberDatapath(io: DatapathIo, stateDir: string, log: Logger): Promise<MemberDatapath> {
  const engine = new DatapathEngine(io, {
    onLiveness: (event) => log.info({ tunnel: event.name, state: event.state, missed: event.missed }, 'tunnel liveness changed'),
    onPathMtu: (event) => log.info({ tunnel: event.name, pathMtu: event.pathMtu, mtu: event.mtu }, 'outer path MTU changed'),
  });
  const datapath = new EngineClientDatapath(engine);
  const engineHandler = engineControlHandler(engine, 'run');
  // Status also says why each hub-driven tunnel runs its encapsulation (`encapReason`).
  const server = await startControlServer(controlSocketPath(stateDir, process.pid), async (request) => {
    const response = await engineHandler(request);
    if (!response.ok) return response;
    return {
      ...response,
      tunnels: response.tunnels.map((tunnel) => {
        const path = typeof tunnel.name === 'string' ? datapath.pathOf(tunnel.name) : undefined;
        return path ? { ...tunnel, encapReason: path.reason } : tunnel;
      }),
    };
  });
  return {
    datapath,
    close: async () => {
      await server.close();
      await datapath.close();
      engine.close();
    },
    removeTunnelsNow: () => engine.close(),
  };
}
