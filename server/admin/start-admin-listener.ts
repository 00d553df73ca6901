import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import { isLoopbackAddress } from '../../shared/net/is-loopback.js';
import type { FrontDoorGates } from '../control/front-door-gates.js';
import type { HubStatus } from '../hub/hub-status.js';
import { openAdminServer } from './admin-server.js';
import { AdminTokenCheck, adminTokenPath } from './admin-token.js';
import { HubMetrics, type PoolUsage } from './hub-metrics.js';
import { buildStatusView, type StatusViewFacts } from './status-view.js';

/** Where the admin listener listens and what it reports on. */
export interface AdminListenerOptions {
  host: string;
  port: number;
  stateDir: string;
  /** The hub's certificate: used when the listener is reachable from other machines. */
  tls?: { cert: Buffer; key: Buffer };
  gates: FrontDoorGates;
  status(): HubStatus | Promise<HubStatus>;
  pools(): readonly PoolUsage[] | Promise<readonly PoolUsage[]>;
  /** Per-peer series on /metrics (`serve --metrics-per-peer`). */
  metricsPerPeer: boolean;
  /** What the status page needs beyond `status()`: sessions' start, tunnels' liveness, serving hubs. */
  facts?(): StatusViewFacts | Promise<StatusViewFacts>;
  log: Logger;
}

/** A running admin listener. */
export interface AdminListener {
  readonly port: number;
  readonly tls: boolean;
  /** True off loopback: requests must carry the token in the state folder's `admin-token`. */
  readonly tokenRequired: boolean;
  readonly metrics: HubMetrics;
  close(): Promise<void>;
}

/** Control-plane events after which the live page updates at once. */
const CHANGES = ['tunnel:session:established', 'tunnel:session:closed', 'tunnel:session:reconfigured'];

/**
 * Starts `/metrics` and the live status page. On loopback (the default 127.0.0.1:9470) anyone on
 * the machine may read them; on any other address the admin token is required, and TLS is used
 * when the hub has a certificate.
 */
export async function startAdminListener(options: AdminListenerOptions): Promise<AdminListener> {
  const remote = !isLoopbackAddress(options.host);
  const metrics = new HubMetrics({ status: options.status, pools: options.pools, gates: Object.values(options.gates), perPeer: options.metricsPerPeer });
  try {
    const server = await openAdminServer({
      host: options.host,
      port: options.port,
      gate: options.gates.admin,
      ...(remote && options.tls ? { tls: options.tls } : {}),
      ...(remote ? { token: new AdminTokenCheck(options.stateDir) } : {}),
      metrics,
      view: async () => {
        const [status, facts] = await Promise.all([options.status(), options.facts?.()]);
        return buildStatusView(status, Date.now(), facts);
      },
      log: options.log,
    });
    const nudge = (): void => server.stream.nudge();
    for (const name of CHANGES) subscribe(name, nudge);
    if (remote) {
      options.log.info({ tokenFile: adminTokenPath(options.stateDir) }, 'the admin listener is reachable from other machines: it asks for the admin token (tunnel-hub admin-token prints it)');
      if (!server.tls) options.log.warn({ admin: `${options.host}:${server.port}` }, 'the admin listener is plain HTTP off loopback: the token crosses the network unencrypted; pass --tls-cert/--tls-key');
    }
    return {
      port: server.port,
      tls: server.tls,
      tokenRequired: remote,
      metrics,
      close: async () => {
        for (const name of CHANGES) unsubscribe(name, nudge);
        metrics.close();
        await server.close();
      },
    };
  } catch (err) {
    metrics.close();
    throw err;
  }
}
