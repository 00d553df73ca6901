import type { Logger } from 'pino';
import { DatapathEngine, type TunnelStatus } from '../../shared/datapath/datapath-engine.js';
import type { DatapathIo } from '../../shared/datapath/datapath-io.js';
import type { TunnelSpecInput } from '../../shared/datapath/tunnel-spec.js';
import { controlSocketPath } from '../control/control-socket-path.js';
import { startControlServer } from '../control/control-server.js';
import { engineControlHandler } from '../control/engine-control-handler.js';

/** What runStaticTunnel needs from its surroundings. */
export interface StaticTunnelContext {
  io: DatapathIo;
  stateDir: string;
  log: Logger;
  /** Told once the tunnel carries packets and answers on its control socket. */
  onReady: (status: TunnelStatus) => void;
  /** Resolves when the tunnel should stop (SIGINT/SIGTERM in the CLI). */
  stopped: Promise<unknown>;
}

/**
 * `tunnel-client up`: one static tunnel with no hub, as the seeds set up by hand. Brings the TUN
 * up, serves status and live changes on `<state>/run/<pid>.sock`, runs until `stopped`, then
 * removes the interface and the socket.
 */
export async function runStaticTunnel(spec: TunnelSpecInput, context: StaticTunnelContext): Promise<void> {
  const { log } = context;
  const socketPath = controlSocketPath(context.stateDir, process.pid);
  const engine = new DatapathEngine(context.io, {
    onLiveness: (event) => log.info({ tunnel: event.name, state: event.state, missed: event.missed }, 'tunnel liveness changed'),
    onPathMtu: (event) => log.info({ tunnel: event.name, pathMtu: event.pathMtu, mtu: event.mtu }, 'outer path MTU changed'),
  });
  const status = await engine.addTunnel(spec);
  let server;
  try {
    server = await startControlServer(socketPath, engineControlHandler(engine, 'up'));
  } catch (err) {
    await engine.close();
    throw err;
  }
  try {
    log.info({ tunnel: status.name, encap: status.encap, local: status.local, remote: status.remote, mtu: status.mtu, control: socketPath }, 'tunnel up');
    context.onReady(status);
    await context.stopped;
  } finally {
    await server.close();
    await engine.close();
    log.info({ tunnel: status.name }, 'tunnel removed');
  }
}
