import type { Logger } from 'pino';
import type { TunnelStatus } from '../datapath/datapath-engine.js';
import { HOOK_TIMEOUT_MS, runHook } from './run-hook.js';

/** What a link hook is told happened: the link came up, went down, or changed while up. */
type LinkEvent = 'up' | 'down' | 'change';

interface Seen {
  up: boolean;
  env: Record<string, string>;
  /** The hook runs for this interface, chained so they happen in order. */
  queue: Promise<unknown>;
}

/** The fields whose change while up is a `change` (a new outer address, encapsulation or MTU). */
const CHANGE_FIELDS = ['TUNNEL_ENCAP', 'TUNNEL_LOCAL', 'TUNNEL_REMOTE', 'TUNNEL_INNER', 'TUNNEL_PEER_INNER', 'TUNNEL_MTU'] as const;

/**
 * Runs a hook program (`--hook FILE`) when a tunnel goes up, goes down, or changes while up, with
 * the TUNNEL_* environment. Runs for one interface happen in order, each killed after 10 s; the
 * datapath never waits for them (a failing or hanging hook is only logged).
 */
export class LinkHooks {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly file: string, private readonly log: Logger, private readonly timeoutMs = HOOK_TIMEOUT_MS) {}

  /** A tunnel's state now (after an apply or a liveness change); `peer` is the other end's name. */
  observe(status: TunnelStatus, peer: string): void {
    const env = linkEnvironment(status, peer);
    const up = status.state === 'up';
    const before = this.seen.get(status.name);
    const seen: Seen = before ?? { up: false, env, queue: Promise.resolve() };
    const event: LinkEvent | null = up !== seen.up ? (up ? 'up' : 'down')
      : up && CHANGE_FIELDS.some((field) => seen.env[field] !== env[field]) ? 'change' : null;
    seen.up = up;
    seen.env = env;
    this.seen.set(status.name, seen);
    if (event !== null) this.run(seen, event);
  }

  /** The tunnel is gone: `down` if it was up. */
  removed(name: string): void {
    const seen = this.seen.get(name);
    if (!seen) return;
    this.seen.delete(name);
    if (seen.up) this.run(seen, 'down');
  }

  private run(seen: Seen, event: LinkEvent): void {
    const env = { ...seen.env, TUNNEL_EVENT: event };
    seen.queue = seen.queue.then(() => runHook(this.file, env, this.log, this.timeoutMs));
  }
}

/** The TUNNEL_* environment of a tunnel, as hooks get it. */
function linkEnvironment(status: TunnelStatus, peer: string): Record<string, string> {
  return {
    TUNNEL_PEER: peer,
    TUNNEL_IFACE: status.name,
    TUNNEL_ENCAP: status.encap,
    TUNNEL_LOCAL: status.local,
    TUNNEL_REMOTE: status.remote,
    TUNNEL_INNER: status.inner ?? '',
    TUNNEL_PEER_INNER: status.peerInner ?? '',
    TUNNEL_MTU: String(status.mtu),
  };
}
