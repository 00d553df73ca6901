import { resolveStateDir } from '../../shared/cli/state-dir.js';
import { nativeDatapathIo, tunQueues } from '../../shared/datapath/native-datapath-io.js';
import { checkHookFile } from '../../shared/hooks/run-hook.js';
import { parseListenAddress } from '../../shared/cli/parse-listen-address.js';
import { createLogger } from '../../shared/log.js';
import { openMetricsHttpServer, type MetricsHttpServer } from '../../shared/metrics/metrics-http-server.js';
import { MemberMetrics } from '../metrics/member-metrics.js';
import { ensureStateDir } from '../identity.js';
import { openMemberDatapath, type MemberDatapath } from '../session/member-datapath.js';
import { runMember, type JoinRequest } from '../session/run-member.js';
import { stopSignals } from './stop-signals.js';

/** Flags `join` and `run` share. */
export interface MemberFlags {
  state?: string;
  once?: boolean;
  /** Prefixes behind this member to ask the hub to route (`--advertise`, repeatable). */
  advertise?: string[];
  /** A program run on link up, down and change (`--hook`). */
  hook?: string;
  logLevel?: string;
  /** `--metrics ADDR:PORT`: serve Prometheus metrics there. */
  metrics?: string;
}

/**
 * Runs `join` (with a request) or `run` (without) on the real datapath until SIGINT/SIGTERM, which
 * always end the process within the shutdown deadline (interfaces removed either way).
 */
export async function runMemberCommand(flags: MemberFlags, join?: JoinRequest): Promise<void> {
  const log = createLogger('tunnel-client', flags.logLevel === undefined ? {} : { level: flags.logLevel });
  const metricsAt = flags.metrics === undefined ? undefined : parseListenAddress(flags.metrics, '--metrics');
  const stateDir = resolveStateDir('client', flags.state);
  const hook = flags.hook === undefined ? undefined : checkHookFile(flags.hook);
  tunQueues();
  ensureStateDir(stateDir);
  let member: MemberDatapath | undefined;
  const stopped = stopSignals({ log, forceCleanup: () => member?.removeTunnelsNow() });
  member = await openMemberDatapath(nativeDatapathIo, stateDir, log, hook === undefined ? {} : { hook });
  const opened = member;
  let metricsServer: MetricsHttpServer | undefined;
  try {
    const metrics = metricsAt && new MemberMetrics(() => opened.datapath.tunnels());
    if (metrics && metricsAt) {
      metricsServer = await openMetricsHttpServer(metricsAt, metrics, log);
      log.info({ metrics: `${metricsAt.host}:${metricsServer.port}` }, 'serving /metrics');
    }
    await runMember({
      stateDir, datapath: member.datapath, log, stopped,
      ...(metrics ? { events: metrics.events } : {}),
      ...(join ? { join } : {}),
      ...(flags.once ? { once: true } : {}),
      advertise: flags.advertise ?? [],
      onFirstConfig: (state) => {
        for (const tunnel of state.config?.tunnels ?? []) {
          process.stdout.write(`${tunnel.name} up: ${tunnel.encap} ${tunnel.local} -> ${tunnel.remote}, inner ${tunnel.address} peer ${tunnel.peerAddress} (peer "${state.peer}", config ${state.config?.version ?? 0})\n`);
        }
      },
    });
  } finally {
    await metricsServer?.close();
    await member.close();
  }
}
