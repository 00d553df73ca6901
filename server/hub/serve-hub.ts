import type { Logger } from 'pino';
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { deviceOwner } from '../../shared/datapath/device-owner.js';
import { nativeDatapathIo, tunQueues } from '../../shared/datapath/native-datapath-io.js';
import { LinkHooks } from '../../shared/hooks/link-hooks.js';
import type { PathQuietEvent, SharedDeviceOption } from '../../shared/datapath/datapath-engine.js';
import { HUB_LINK_PREFIX } from '../../shared/net/tunnel-interface-name.js';
import { KernelRoutes } from '../../shared/routing/kernel-routes.js';
import { systemKernelNetworkConfig } from '../../shared/system/system-kernel-network-config.js';
import type { HubDatapath } from '../control/hub-datapath.js';
import { EngineHubDatapath } from './engine-hub-datapath.js';
import { MemoryDatapath } from './memory-datapath.js';
import { startHub, type StartHubOptions } from './start-hub.js';

/** `serve` options as the CLI gives them: the datapath by name, and a link hook. */
export interface ServeHubOptions extends Omit<StartHubOptions, 'datapath'> {
  datapath: 'engine' | 'none';
  /** A program run with the TUNNEL_* environment when a member's tunnel goes up, down or changes. */
  hook?: string;
  /**
   * own (default): a TUN device per member; shared: one device (SHARED_MEMBER_DEVICE) for every
   * member tunnel that needs no interface of its own (with routing static, all but gretap links).
   */
  memberDevices?: MemberDevices;
}

/** `serve --member-devices`. */
export type MemberDevices = 'own' | 'shared';

/** The modes `serve --member-devices` takes. */
export const MEMBER_DEVICE_MODES: readonly MemberDevices[] = ['own', 'shared'];

/** The interface name of the hub's shared member device. */
export const SHARED_MEMBER_DEVICE = 'tc-members';

/**
 * Runs the hub in the foreground until SIGINT or SIGTERM, then shuts down cleanly: sessions
 * closed, front doors closed, the hub's TUN devices removed, serve.json and the socket deleted.
 */
export async function serveHub(options: ServeHubOptions): Promise<void> {
  const { log } = options;
  // Listened for before the start: a signal while the hub starts (serve.json may already be
  // written) waits for the start to end and then shuts down as cleanly as any other.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  if (options.datapath === 'engine') tunQueues();
  const hub = await startHub({
    ...options,
    datapath: async ({ hubId }) => {
      if (options.datapath !== 'engine') return new MemoryDatapath();
      const datapath = engineDatapath(options, log, hubId);
      await datapath.start();
      return datapath;
    },
  });
  const signal = await stopSignal;
  log.info({ signal }, 'shutting down');
  await hub.close();
  log.info('hub stopped');
}

/** The alias (IFLA_IFALIAS) of every device of the hub with this id: how a restarted hub tells its own leftovers from anyone else's. */
export function hubDeviceAlias(hubId: string): string {
  return `tunnel-hub:${hubId}`;
}

function engineDatapath(options: ServeHubOptions, log: Logger, hubId: string): EngineHubDatapath {
  // The engine reports liveness, bindings and due rekeys before the datapath wrapping it exists.
  const changes: { of?: (name: string) => void; rekeyDue?: (name: string) => void; pathQuiet?: (event: PathQuietEvent) => void } = {};
  const shared = sharedMemberDevice(options);
  const engine = new DatapathEngine(nativeDatapathIo, {
    owner: deviceOwner(hubDeviceAlias(hubId)),
    onLiveness: (event) => {
      log.info({ tunnel: event.name, state: event.state, missed: event.missed }, 'tunnel liveness changed');
      changes.of?.(event.name);
    },
    onBinding: (event) => changes.of?.(event.name),
    onPathMtu: (event) => {
      log.info({ tunnel: event.name, pathMtu: event.pathMtu, mtu: event.mtu }, 'outer path MTU changed');
      changes.of?.(event.name);
    },
    onRekeyDue: (event) => changes.rekeyDue?.(event.name),
    onPathQuiet: (event) => changes.pathQuiet?.(event),
    // Member pairs worth a shortcut show in what each member's tunnel receives.
    tallyDestinations: options.shortcuts?.mode !== 'off',
    // tunnel-client members probe their hub tunnels on their own: the hub's probes would be a second, redundant round trip.
    passiveKeepalives: true,
    ...(shared !== undefined ? { sharedDevice: shared } : {}),
  });
  if (shared !== undefined) log.info({ device: SHARED_MEMBER_DEVICE }, 'member devices shared: member tunnels other than gretap share one TUN device');
  const forward = (options.routing ?? 'static') === 'static';
  if (forward) log.info('routing static: forwarding IPv4 and IPv6 between member tunnels (turned on per tunnel interface)');
  else log.info('routing none: no routes installed or pushed, forwarding left as the system has it (a routing daemon owns routing)');
  const hooks = options.hook === undefined ? undefined : new LinkHooks(options.hook, log);
  const datapath = new EngineHubDatapath(engine, { forward, routes: new KernelRoutes(systemKernelNetworkConfig), log }, hooks);
  changes.of = (name) => datapath.stateChanged(name);
  changes.rekeyDue = (name) => datapath.rekeyIsDue(name);
  changes.pathQuiet = (event) => datapath.pathQuiet(event.name, event.lastHeardAt);
  return datapath;
}

/**
 * The engine's shared device for `serve --member-devices`, or undefined: with `shared` and
 * routing static, the hub's end of a member link shares the device; a gretap link (Ethernet, a
 * bridge port) and a link to another hub keep their own. With routing none a routing daemon
 * speaks on each member's interface: every tunnel keeps its own.
 */
export function sharedMemberDevice(options: Pick<ServeHubOptions, 'memberDevices' | 'routing'>): SharedDeviceOption | undefined {
  if (options.memberDevices !== 'shared' || (options.routing ?? 'static') !== 'static') return undefined;
  return { name: SHARED_MEMBER_DEVICE, takes: (spec) => spec.encap !== 'gretap' && !spec.name.startsWith(HUB_LINK_PREFIX) };
}
