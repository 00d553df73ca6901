import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { TunnelError } from '../../shared/errors.js';
import { authenticateBearer } from '../control/authenticate-bearer.js';
import { countHttpLogins } from '../control/count-http-logins.js';
import { DYNDNS2_PATH, createDyndns2Handler, type Dyndns2Limits } from '../control/dyndns2-update.js';
import { ControlPlane, DEFAULT_PATH_OPTIONS, type PathOptions } from '../control/control-plane.js';
import { DEFAULT_REKEY_GRACE_MS, DEFAULT_REKEY_INTERVAL_MS } from '../control/link-sa-keeper.js';
import type { SessionTiming } from '../control/session-keepalives.js';
import type { HubDatapath } from '../control/hub-datapath.js';
import type { RoutingMode } from '../routing/member-route-specs.js';
import { peerRevocationError } from '../control/peer-revocation-error.js';
import { runShellCommand } from '../control/shell-commands.js';
import { openSshFrontDoor, type SshFrontDoor } from '../control/ssh-front-door.js';
import { TokenReplayCache } from '../control/token-replay-cache.js';
import type { PeerTokenClaims } from '../auth/token-claims.js';
import { VerifiedTokenCache } from '../auth/verified-token-cache.js';
import { openWsFrontDoor, type WsFrontDoor } from '../control/ws-front-door.js';
import type { DoorName } from '../control/connection-gate.js';
import { createFrontDoorGates, type DoorSettings, type FrontDoorGates } from '../control/front-door-gates.js';
import { startAdminListener } from '../admin/start-admin-listener.js';
import { isLoopbackAddress } from '../../shared/net/is-loopback.js';
import { pathLivenessFits } from '../../shared/protocol/index.js';
import { openHubState, type HubState } from '../hub-state/hub-state.js';
import { hubStatePaths } from '../hub-state/hub-state-paths.js';
import { initHubState } from '../hub-state/init-hub-state.js';
import { keyedRouterTables } from '../hub-state/router-link-keys.js';
import type { Registry } from '../registry/registry.js';
import type { Clock } from '../registry/registry-context.js';
import { detectEndpoint } from './detect-endpoint.js';
import { detectIpv6Endpoint } from './detect-ipv6-endpoint.js';
import { frontDoorHost } from './front-door-host.js';
import { HUB_FRESH_MS, startClusterMembership } from './cluster-membership.js';
import { buildHubStatus, type HubStatus } from './hub-status.js';
import { filterHubStatus } from './peer-filter.js';
import { HubToHubLinks } from '../cluster/hub-to-hub-links.js';
import { controlRegistryOver } from './registry-control-adapter.js';
import { watchRegistryChanges } from './registry-change-watcher.js';
import { refuseKeylessSourceClash } from './keyless-source-clash.js';
import { restoreRouterEnds } from './restore-router-ends.js';
import { SERVE_DEFAULTS } from './serve-defaults.js';
import { removeServeRuntime, writeServeRuntime } from './serve-runtime-file.js';
import { loadOrCreateSshHostKey, sshHostKeyFingerprint } from './ssh-host-key.js';
import { openStatusSocket, statusSocketPath, type StatusSocket } from './status-socket.js';
import { DEFAULT_SHORTCUT_OPTIONS, type ShortcutOptions } from '../shortcuts/shortcut-options.js';
import { ShortcutKeeper } from '../shortcuts/shortcut-keeper.js';
import { shortcutRegistryOver } from './registry-shortcut-adapter.js';


/**
 * How long the hub<->hub routes may lag this hub's own claims (ms), on top of the layout itself.
 * The member's /30 is reached at once anyway: its hub end's address makes it a connected route.
 */
const CLAIM_SYNC_DELAY_MS = 100;

/** Pool a hub initialised by `serve` itself hands /30s from (an operator can add others). */
export const DEFAULT_POOL = '10.99.0.0/16';

/** Session timing unless told otherwise: keepalive every 10 s, dead after 30 s of silence. */
export const DEFAULT_TIMING: SessionTiming = { keepaliveMs: 10_000, livenessMs: 30_000 };

/** Everything `serve` needs; tests pass ports 0, a temp state folder and an in-memory datapath. */
export interface StartHubOptions {
  stateDir: string;
  listen?: string;
  /**
   * The hub's global IPv6 address for tunnels (told to members, the local end of their IPv6
   * links); null for none; absent: detected (detect-ipv6-endpoint.ts).
   */
  endpoint6?: string | null;
  wsPort?: number;
  sshPort?: number;
  tls?: { certFile: string; keyFile: string };
  /**
   * Builds the datapath once the state is open, given the hub's id (the engine needs root and
   * marks its devices with the id; tests pass a fake).
   */
  datapath: (identity: { hubId: string }) => HubDatapath | Promise<HubDatapath>;
  timing?: SessionTiming;
  /** Path settings of issued links (keepalive interval); default DEFAULT_PATH_OPTIONS. */
  paths?: PathOptions;
  /** `static` (default): the hub routes between its members and pushes their routes; `none`: a routing daemon does. */
  routing?: RoutingMode;
  /** When the hub builds shortcuts between busy members (`serve --shortcuts …`); default DEFAULT_SHORTCUT_OPTIONS. */
  shortcuts?: ShortcutOptions;
  /**
   * Who encrypts and how often keys change. `byDefault` absent: on when the hub serves wss://
   * (`tls`), off otherwise (plain ws:// could carry keys to none of its invite joins).
   */
  encryption?: { byDefault?: boolean; rekeyIntervalMs?: number; graceMs?: number };
  /**
   * The admin listener (`/metrics`, the live status page); absent: none. `serve` defaults to
   * 127.0.0.1:9470. `metricsPerPeer` (default true) exports the per-peer series.
   */
  admin?: { host: string; port: number; metricsPerPeer?: boolean };
  /** Front-door limits and timeouts beyond the defaults, per door. */
  doors?: Partial<Record<DoorName, DoorSettings>>;
  /** Rate limits of the dyndns2 update; default DEFAULT_DYNDNS2_LIMITS. */
  dyndnsLimits?: Dyndns2Limits;
  /** The registry's and the token checks' clock (ms since the epoch); default Date.now. Tests pass one to move time. */
  clock?: Clock;
  log: Logger;
}

/** A running hub. */
export interface RunningHub {
  readonly wsPort: number;
  readonly sshPort: number;
  /** The SHA256 fingerprint of the SSH host key: the hub's stable id and client-token audience. */
  readonly hubId: string;
  /** The admin listener's port, or null when there is none. */
  readonly adminPort: number | null;
  readonly registry: Registry;
  readonly plane: ControlPlane;
  readonly datapath: HubDatapath;
  /** The front doors' limits and what they counted. */
  readonly gates: FrontDoorGates;
  /** The shortcut options this hub runs with. */
  readonly shortcuts: ShortcutOptions;
  /** What builds and removes this hub's shortcuts. */
  readonly shortcutKeeper: ShortcutKeeper;
  /** The live status report. */
  status(): Promise<HubStatus>;
  /** Closes sessions and front doors, removes the hub's TUNs, closes the registry. */
  close(): Promise<void>;
}

/**
 * `tunnel-hub serve`: opens (initialising when needed) the state folder, loads the signing and
 * host keys, starts the datapath, both front doors and the status socket, and writes serve.json.
 */
export async function startHub(options: StartHubOptions): Promise<RunningHub> {
  const listen = options.listen ?? SERVE_DEFAULTS.listen;
  const log = options.log;
  const shortcuts = options.shortcuts ?? DEFAULT_SHORTCUT_OPTIONS;
  const state = await openOrInit(options.stateDir, listen, log, options.clock);
  // Shutdown steps, run last first; each is timed (--log-level debug), so a slow stop says where its time went.
  const cleanups: { name: string; run: () => Promise<void> | void }[] = [];
  const onClose = (name: string, run: () => Promise<void> | void): void => void cleanups.push({ name, run });
  onClose('registry', () => state.close());
  const cleanup = async (): Promise<void> => {
    const tookMs: Record<string, number> = {};
    for (const step of cleanups.splice(0).reverse()) {
      const started = performance.now();
      try {
        await step.run();
      } catch (err) {
        log.warn({ step: step.name, err: (err as Error).message }, 'shutdown step failed');
      }
      tookMs[step.name] = Math.round(performance.now() - started);
    }
    log.debug({ tookMs }, 'shutdown steps');
  };
  try {
    const tls = options.tls && readTls(options.tls);
    const hostKey = loadOrCreateSshHostKey(options.stateDir);
    const hubId = sshHostKeyFingerprint(hostKey);
    const datapath = await options.datapath({ hubId });
    onClose('datapath', () => datapath.close());
    // A hub of a cluster keeps a tunnel to every other hub, routing what their members own.
    const encryption = { ...options.encryption, byDefault: options.encryption?.byDefault ?? tls !== undefined };
    const hubLinks = state.cluster && new HubToHubLinks(state.registry, state.cluster.hubName, datapath, options.routing ?? 'static',
      (options.paths ?? DEFAULT_PATH_OPTIONS).keepaliveInterval, log, undefined,
      { encrypt: encryption.byDefault, ...(encryption.rekeyIntervalMs !== undefined ? { rekeyIntervalMs: encryption.rekeyIntervalMs } : {}),
        ...(encryption.graceMs !== undefined ? { graceMs: encryption.graceMs } : {}) });
    if (hubLinks) onClose('hub links', () => hubLinks.close());
    // Claims come by the thousand when this hub takes over the members of one that died: the
    // hub<->hub routes follow them once per short burst (each layout reads every member), not per claim.
    let claimSync: NodeJS.Timeout | undefined;
    const afterClaim = (): void => {
      claimSync ??= setTimeout(() => {
        claimSync = undefined;
        void hubLinks?.sync();
      }, CLAIM_SYNC_DELAY_MS);
    };
    onClose('claim sync', () => clearTimeout(claimSync));
    const endpoint6 = options.endpoint6 !== undefined ? options.endpoint6 : detectIpv6Endpoint(listen);
    // The keeper and the plane ask each other: the plane whether a shortcut's routes go in, the
    // keeper for members' sessions and their reconfiguration.
    let plane!: ControlPlane;
    const shortcutKeeper = new ShortcutKeeper({
      options: shortcuts, routing: options.routing ?? 'static', registry: shortcutRegistryOver(state.registry), datapath, log,
      plane: { liveState: () => plane.liveState(), refresh: (peers) => plane.refresh(peers) }, alone: state.cluster === undefined,
    });
    plane = new ControlPlane({
      registry: controlRegistryOver(state.registry, state.cluster?.hubName, afterClaim), datapath, timing: options.timing ?? DEFAULT_TIMING, log,
      paths: options.paths ?? DEFAULT_PATH_OPTIONS, routing: options.routing ?? 'static', identity: { hubId, endpoint6 }, encryption, shortcuts: shortcutKeeper,
    });
    datapath.onRekeyDue?.((tunnel) => plane.hubEndRekeyDue(tunnel));
    datapath.onPathQuiet?.((peer, lastHeardAt) => plane.hubTunnelQuiet(peer, lastHeardAt));
    onClose('control plane', () => plane.close());
    onClose('shortcut keeper', () => shortcutKeeper.stop());
    // Loads the routing facts once, which installs the hub's unreachable fallback routes.
    await plane.reconcile();
    await hubLinks?.sync();
    const watcher = watchRegistryChanges(state.registry, async () => {
      shortcutKeeper.registryChanged();
      await plane.reconcile();
      await hubLinks?.sync();
    }, log);
    onClose('registry watcher', () => watcher.stop());
    const replay = new TokenReplayCache();
    const verifiedPeerTokens = new VerifiedTokenCache<PeerTokenClaims>();
    const timing = options.timing ?? DEFAULT_TIMING;
    const gates = createFrontDoorGates(timing, options.doors ?? {}, log);
    onClose('front-door gates', () => Promise.all(Object.values(gates).map((gate) => gate.close())).then(() => undefined));
    const registry = state.registry;
    const dyndns2 = createDyndns2Handler({
      peerState: async (peer) => {
        const record = await registry.peers.find(peer);
        return record === undefined ? 'unknown' : record.revokedAt === null ? 'active' : 'revoked';
      },
      verifyKey: (peer, key) => registry.dyndnsKeys.verify(peer, key),
      latestEndpoint: async (peer) => (await registry.endpoints.latest(peer))?.address ?? null,
      reportEndpoint: async (peer, seen) => {
        await refuseKeylessSourceClash(registry, peer, seen);
        await plane.reportFromShell(peer, seen);
      },
      ...(options.dyndnsLimits ? { limits: options.dyndnsLimits } : {}),
      log,
    });
    const doorHost = frontDoorHost(listen);
    const ws: WsFrontDoor = await openWsFrontDoor({
      host: doorHost,
      port: options.wsPort ?? SERVE_DEFAULTS.wsPort,
      ...(tls ? { tls } : {}),
      hubId,
      authenticate: (request) => authenticateBearer(request, {
        registry: state.registry, signingKey: state.signingKey.publicKey, hubId, clock: state.clock, replay, verifiedPeerTokens,
      }),
      attach: (peer, transport) => plane.attach(peer, transport),
      // Only a datapath that hears its tunnels, with path keepalives often enough to stand for messages.
      acceptPathLiveness: datapath.pathHeardAt !== undefined && pathLivenessFits((options.paths ?? DEFAULT_PATH_OPTIONS).keepaliveInterval * 1000, timing),
      routes: new Map([[DYNDNS2_PATH, countHttpLogins(gates.ws, dyndns2)]]),
      gate: gates.ws,
      log,
    });
    onClose('ws front door', () => ws.close());
    const dyndnsUrl = `${ws.tls ? 'https' : 'http'}://${(await registry.settings.require()).endpoint}:${ws.port}${DYNDNS2_PATH}`;
    const ssh: SshFrontDoor = await openSshFrontDoor({
      host: doorHost,
      port: options.sshPort ?? SERVE_DEFAULTS.sshPort,
      hostKey,
      authorizedKeys: async (peer) => ((await state.registry.peers.find(peer)) ? (await state.registry.peers.show(peer)).sshKeys.map((key) => key.publicKey) : []),
      refusal: async (peer) => {
        const record = await state.registry.peers.find(peer);
        return record && peerRevocationError(record);
      },
      attach: (peer, transport) => plane.attach(peer, transport),
      shell: (peer, remoteAddress, command) => runShellCommand(command, {
        peer, remoteAddress,
        tables: () => state.registry.links.tablesForPeer(peer),
        keyedTables: () => keyedRouterTables(state.registry, peer),
        reportEndpoint: async (seen) => {
          await refuseKeylessSourceClash(state.registry, peer, seen);
          await plane.reportFromShell(peer, seen);
        },
        dyndnsUrl,
      }),
      gate: gates.ssh,
      log,
    });
    onClose('ssh front door', () => ssh.close());
    await restoreRouterEnds(registry, plane, log, state.cluster?.hubName);
    if (state.cluster) {
      const own = await registry.hubs.require(state.cluster.hubName, HUB_FRESH_MS);
      const membership = await startClusterMembership(registry, state.cluster.hubName,
        { wsUrl: `${ws.tls ? 'wss' : 'ws'}://${own.endpoint}:${ws.port}`, sshPort: ssh.port, encrypt: encryption.byDefault }, log);
      onClose('cluster membership', () => membership.stop());
      // This hub's own front door is in the cluster view from now on; its own writes are not announced back to it.
      await plane.reconcile();
    }
    const status = (): Promise<HubStatus> => buildHubStatus(state.registry, {
      live: plane.liveState(), keepaliveInterval: plane.keepaliveInterval, datapath, pid: process.pid, wsPort: ws.port, sshPort: ssh.port, hubId,
      linkKeys: (linkId) => plane.linkKeys(linkId),
      shortcuts: shortcutKeeper,
    }, state.cluster?.hubName);
    const socketPath = statusSocketPath(options.stateDir);
    const statusSocket: StatusSocket = await openStatusSocket(socketPath, async (request) => (request.view === 'sessions'
      ? { sessions: [...plane.liveState()].flatMap(([peer, live]) => (live.connected ? [peer] : [])) }
      : request.view === 'shortcuts' ? { shortcuts: shortcutKeeper.rates() }
        : filterHubStatus(await status(), request.filter)));
    onClose('status socket', () => statusSocket.close());
    const admin = options.admin && await startAdminListener({
      host: options.admin.host, port: options.admin.port, metricsPerPeer: options.admin.metricsPerPeer ?? true,
      stateDir: options.stateDir, ...(tls ? { tls } : {}), gates, status, pools: () => state.registry.pools.list(), log,
      facts: async () => ({ live: plane.liveState(), liveness: (tunnel: string) => datapath.liveness?.(tunnel), ...(state.cluster ? { servingHubs: await registry.sessions.owners() } : {}) }),
    });
    if (admin) onClose('admin listener', () => admin.close());
    writeServeRuntime(options.stateDir, {
      pid: process.pid, listen, wsPort: ws.port, sshPort: ssh.port, tls: ws.tls, hubId, statusSocket: socketPath,
      admin: admin && options.admin ? { listen: options.admin.host, port: admin.port, tls: admin.tls, tokenRequired: admin.tokenRequired } : null,
      shortcuts, startedAt: new Date().toISOString(),
    });
    onClose('serve.json', () => removeServeRuntime(options.stateDir));
    shortcutKeeper.start();
    if (!ws.tls && !isLoopbackAddress(listen)) {
      log.warn({ listen, wsPort: ws.port }, 'plain ws:// on a non-loopback address: tokens cross the network unencrypted; pass --tls-cert/--tls-key');
    }
    log.info({
      listen, wsPort: ws.port, sshPort: ssh.port, tls: ws.tls, hubId, endpoint: (await state.registry.settings.require()).endpoint, endpoint6,
      admin: admin && options.admin ? `${options.admin.host}:${admin.port}` : null,
      encrypt: encryption.byDefault ? 'on' : 'off', rekeyInterval: `${Math.round((encryption.rekeyIntervalMs ?? DEFAULT_REKEY_INTERVAL_MS) / 1000)}s`,
      rekeyGrace: `${Math.round((encryption.graceMs ?? DEFAULT_REKEY_GRACE_MS) / 1000)}s`,
    }, 'hub listening');
    if (encryption.byDefault && !ws.tls) {
      log.warn('--encrypt on over plain ws://: members whose links are encrypted are refused over ws:// (ERR_INSECURE_CHANNEL) and must connect over ssh://');
    }
    return {
      wsPort: ws.port, sshPort: ssh.port, adminPort: admin ? admin.port : null, hubId, registry: state.registry, plane, datapath, gates, shortcuts, shortcutKeeper, status,
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function openOrInit(stateDir: string, listen: string, log: Logger, clock: Clock | undefined): Promise<HubState> {
  const paths = hubStatePaths(stateDir);
  if (!existsSync(paths.cluster) && (!existsSync(paths.database) || !existsSync(paths.signingKey))) {
    const endpoint = detectEndpoint(listen);
    await initHubState(stateDir, { endpoint, pool: DEFAULT_POOL });
    log.info({ stateDir, endpoint, pool: DEFAULT_POOL }, 'initialised a new hub state folder');
  }
  return openHubState(stateDir, clock ? { clock } : {});
}

function readTls(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  } catch (err) {
    throw new TunnelError('ERR_INVALID_CONFIG', `cannot read the TLS certificate or key: ${(err as Error).message}`);
  }
}

