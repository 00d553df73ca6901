import type { Logger } from 'pino';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import type { DatapathIo } from '../../shared/datapath/datapath-io.js';
import { LinkHooks } from '../../shared/hooks/link-hooks.js';
import { KernelRoutes, type RouteChanges } from '../../shared/routing/kernel-routes.js';
import { systemKernelNetworkConfig } from '../../shared/system/system-kernel-network-config.js';
import { controlSocketPath } from '../control/control-socket-path.js';
import { startControlServer } from '../control/control-server.js';
import { engineControlHandler } from '../control/engine-control-handler.js';
import { EngineClientDatapath } from './engine-client-datapath.js';
import { tunnelInterfaceName } from '../../shared/net/tunnel-interface-name.js';

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
export async function openMemberDatapath(io: DatapathIo, stateDir: string, log: Logger,
  options: { hook?: string; routeChanges?: RouteChanges } = {}): Promise<MemberDatapath> {
  // The engine reports liveness, path MTU changes and due rekeys before the datapath wrapping it exists.
  const changes: { of?: (name: string) => void; rekeyDue?: (name: string) => void } = {};
  const engine = new DatapathEngine(io, {
    onLiveness: (event) => {
      log.info({ tunnel: event.name, state: event.state, missed: event.missed }, 'tunnel liveness changed');
      changes.of?.(event.name);
    },
    onPathMtu: (event) => {
      log.info({ tunnel: event.name, pathMtu: event.pathMtu, mtu: event.mtu }, 'outer path MTU changed');
      changes.of?.(event.name);
    },
    onRekeyDue: (event) => changes.rekeyDue?.(event.name),
  });
  const hooks = options.hook === undefined ? undefined : new LinkHooks(options.hook, log);
  const datapath = new EngineClientDatapath(engine, new KernelRoutes(options.routeChanges ?? systemKernelNetworkConfig), log, hooks);
  changes.of = (name) => datapath.stateChanged(name);
  changes.rekeyDue = (name) => datapath.rekeyIsDue(name);
  const engineHandler = engineControlHandler(engine, 'run');
  // Status also says why each hub-driven tunnel runs its encapsulation (`encapReason`), what it
  // routes (`routes`) and which kind of link it is (`kind`, and `why` for a shortcut).
  const server = await startControlServer(controlSocketPath(stateDir, process.pid), async (request) => {
    const response = await engineHandler(request);
    if (!response.ok) return response;
    return {
      ...response,
      tunnels: response.tunnels.map((tunnel) => {
        const name = String(tunnel.name);
        const path = datapath.pathOf(name);
        // Which link a tunnel is: the hub link, an operator's link, or a shortcut the hub made (and why).
        const kind = path?.kind ?? (path === undefined ? undefined : name === tunnelInterfaceName('hub') ? 'hub' : 'operator');
        return {
          ...tunnel, ...(path ? { encapReason: path.reason } : {}), routes: datapath.routesOf(name),
          ...(kind !== undefined ? { kind } : {}), ...(path?.why !== undefined ? { why: path.why } : {}),
        };
      }),
    };
  });
  return {
    datapath,
    close: async () => {
      await server.close();
      await datapath.close();
      await engine.close();
    },
    removeTunnelsNow: () => engine.closeNow(),
  };
}
