import pino from 'pino';
import { vi } from 'vitest';
import { ControlPlane, type EncryptionOptions, type HubIdentity, type PathOptions } from '../../server/control/control-plane.js';
import type { ControlSession } from '../../server/control/control-session.js';
import type { SessionTiming } from '../../server/control/session-keepalives.js';
import type { AuthMethod } from '../../server/control/authenticated-peer.js';
import type { RoutingMode } from '../../server/routing/member-route-specs.js';
import { ShortcutKeeper } from '../../server/shortcuts/shortcut-keeper.js';
import type { ShortcutOptions } from '../../server/shortcuts/shortcut-options.js';
import type { ShortcutLinkReport } from '../../server/control/shortcut-links.js';
import type { MessageOf } from '../../shared/protocol/index.js';
import { FakeSessionTransport } from './fake-session-transport.js';
import { MemoryControlRegistry } from './memory-control-registry.js';
import { RecordingHubDatapath } from './recording-hub-datapath.js';

/** One member's connection to the plane under test. */
export interface LabMember {
  readonly name: string;
  readonly transport: FakeSessionTransport;
  readonly session: ControlSession;
  /** Says hello (`reported`: the address it believes it has). */
  hello(reported: string | null, advertise?: string[]): void;
  report(address: string): void;
  ack(version: number): void;
  /** Reports its shortcut tunnels (`link-report`). */
  linkReport(links: ShortcutLinkReport[]): void;
  /** The configs the hub pushed to this connection, in order. */
  configs(): ConfigMessage[];
  /** The last config pushed, or a failed expectation's undefined. */
  lastConfig(): ConfigMessage | undefined;
}

/** A config as the hub sent it (encodeMessage output, decoded). */
type ConfigMessage = MessageOf<'config'>;

/** The configs a transport carried: the hub encoded them from the protocol's own type. */
function configsOf(transport: FakeSessionTransport): ConfigMessage[] {
  return transport.messages('config') as unknown as ConfigMessage[];
}

/** A ControlPlane on an in-memory registry and a recording datapath. */
export interface ControlPlaneLab {
  readonly registry: MemoryControlRegistry;
  readonly datapath: RecordingHubDatapath;
  readonly plane: ControlPlane;
  /** The shortcut keeper, when the lab was built with `shortcuts` (not started: tests call `wake`). */
  readonly keeper: ShortcutKeeper | undefined;
  /** An authenticated connection of `name` from `seen`, before its hello (`encrypted`: wss:// or SSH, the default). */
  connect(name: string, seen: string, method?: AuthMethod, encrypted?: boolean): LabMember;
  /** Connects and says hello, then lets the plane finish. */
  join(name: string, seen: string, reported?: string | null): Promise<LabMember>;
}

/** Short session timing: a keepalive every second, dead after three silent seconds. */
export const LAB_TIMING: SessionTiming = { keepaliveMs: 1_000, livenessMs: 3_000 };

/**
 * Fakes the session clock (timers and Date) but not setImmediate, so `settle` can still let every
 * queued reconfiguration finish (their registry calls resolve as microtasks).
 */
export function fakeSessionClock(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
}

/** Lets every queued reconfiguration run to its end. */
export async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** Builds the lab; `registry` options go to the MemoryControlRegistry. */
export function controlPlaneLab(options: {
  registry?: ConstructorParameters<typeof MemoryControlRegistry>[0];
  routing?: RoutingMode;
  identity?: HubIdentity;
  paths?: PathOptions;
  encryption?: EncryptionOptions;
  /** Runs a shortcut keeper with these options beside the plane. */
  shortcuts?: ShortcutOptions;
  /** Where the plane logs (default: silent, or TUNNEL_TEST_LOG's level). */
  log?: pino.Logger;
} = {}): ControlPlaneLab {
  const registry = new MemoryControlRegistry(options.registry);
  const datapath = new RecordingHubDatapath();
  const log = options.log ?? pino({ level: process.env.TUNNEL_TEST_LOG ?? 'silent' });
  let plane!: ControlPlane;
  const keeper = options.shortcuts && new ShortcutKeeper({
    options: options.shortcuts, routing: options.routing ?? 'static', registry, datapath, log, alone: true,
    plane: { liveState: () => plane.liveState(), refresh: (peers) => plane.refresh(peers) },
  });
  plane = new ControlPlane({
    registry, datapath, timing: LAB_TIMING, log,
    ...(options.paths ? { paths: options.paths } : {}),
    ...(options.routing ? { routing: options.routing } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.encryption ? { encryption: options.encryption } : {}),
    ...(keeper ? { shortcuts: keeper } : {}),
  });
  const connect = (name: string, seen: string, method: AuthMethod = 'client-key', encrypted = true): LabMember => {
    const transport = new FakeSessionTransport(seen, 'ws', encrypted);
    const session = plane.attach({ name, method }, transport);
    const feed = (message: object): void => session.receive(JSON.stringify({ v: 1, ...message }));
    return {
      name, transport, session,
      hello: (reported, advertise) => feed({ type: 'hello', software: 'lab', endpoint: reported, ...(advertise ? { advertise } : {}) }),
      report: (address) => feed({ type: 'report', endpoint: { address } }),
      ack: (version) => feed({ type: 'ack', version }),
      linkReport: (links) => feed({ type: 'link-report', links }),
      configs: () => configsOf(transport),
      lastConfig: () => configsOf(transport).at(-1),
    };
  };
  return {
    registry, datapath, plane, keeper, connect,
    join: async (name, seen, reported = seen) => {
      const member = connect(name, seen);
      member.hello(reported);
      await settle();
      return member;
    },
  };
}
