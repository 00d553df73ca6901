import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { nativeDatapathIo } from '../../shared/datapath/native-datapath-io.js';
import { EngineHubDatapath } from './engine-hub-datapath.js';
import { MemoryDatapath } from './memory-datapath.js';
import { startHub, type StartHubOptions } from './start-hub.js';

/** `serve` options as the CLI gives them: the datapath by name. */
export interface ServeHubOptions extends Omit<StartHubOptions, 'datapath'> {
  datapath: 'engine' | 'none';
}

/**
 * Runs the hub in the foreground until SIGINT or SIGTERM, then shuts down cleanly: sessions
 * closed, front doors closed, the hub's TUN devices removed, serve.json and the socket deleted.
 */
export async function serveHub(options: ServeHubOptions): Promise<void> {
  const { log } = options;
  const hub = await startHub({
    ...options,
    datapath: () => (options.datapath === 'engine'
      ? new EngineHubDatapath(new DatapathEngine(nativeDatapathIo, {
        onLiveness: (event) => log.info({ tunnel: event.name, state: event.state, missed: event.missed }, 'tunnel liveness changed'),
        onPathMtu: (event) => log.info({ tunnel: event.name, pathMtu: event.pathMtu, mtu: event.mtu }, 'outer path MTU changed'),
      }))
      : new MemoryDatapath()),
  });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log.info({ signal }, 'shutting down');
  await hub.close();
  log.info('hub stopped');
}
