import type { DatapathIo } from './datapath-io.js';
import { planEncapsulation } from './encapsulation-plan.js';
import { formatOuterKey, outerKeyOf } from './outer-address.js';
import { MIN_TUNNEL_MTU } from './tunnel-spec.js';
import type { Tunnel, TunnelSocket } from './tunnel.js';

/** How often each tunnel's path MTU is compared with the kernel's, at the least. */
const PATH_MTU_CHECK_MS = 10_000;

/** How often a slice of the tunnels is compared: the checks of a round are spread over it. */
const PATH_MTU_SLICE_MS = 1_000;

/**
 * Most comparisons per second. A slice's comparisons share one socket (two system calls each), but
 * a hub with thousands of tunnels still takes longer than PATH_MTU_CHECK_MS for a round rather than
 * spend its idle time here; ICMP reports still lower a tunnel's MTU at once.
 */
const PATH_MTU_CHECKS_PER_SECOND = 200;

/** A tunnel's outer path MTU changed, and so its MTU. */
export interface PathMtuEvent {
  name: string;
  pathMtu: number;
  mtu: number;
}

/**
 * Runs `work` for `tunnel` after the engine's other work on it (a live update, a removal), so a
 * new MTU is set on the tunnel it was learned for; the engine passes its per-tunnel queue.
 */
export type TunnelWork = (tunnel: Tunnel, work: () => Promise<void>) => void;

/**
 * Follows the outer path MTU toward each tunnel's remote: ICMP reports read from a socket's error
 * queue lower it at once, and the kernel's own estimate is compared on add, on a move and once
 * per round (every 10 s, longer with more than 2,000 tunnels), a slice of the tunnels each second.
 * A change re-plans the tunnel (TUN link MTU, fast route) and is reported to `onPathMtu`.
 */
export class PathMtuWatch {
  #timer: NodeJS.Timeout | null = null;
  /** The tunnels still to compare in this round. */
  #round: Tunnel[] = [];
  /** Tunnels to compare at the end of this turn (added or moved). */
  readonly #soon = new Set<Tunnel>();

  constructor(
    private readonly io: DatapathIo,
    private readonly tunnels: ReadonlyMap<string, Tunnel>,
    /** The outer path MTU assumed when nothing says less. */
    private readonly pathMtu: number,
    private readonly runFor: TunnelWork,
    private readonly onPathMtu?: (event: PathMtuEvent) => void,
  ) {}

  /**
   * ICMP said the path toward some remote takes less than we send (IPv6 Packet Too Big, read from
   * the socket's error queue): each tunnel of this socket toward that remote lowers its MTU to fit,
   * so its inner packets travel unfragmented and larger ones get ICMP "too big" inside the tunnel.
   */
  applyReports(socket: TunnelSocket): void {
    if (socket.endpoint.takePathMtuReports === undefined || socket.endpoint.closed) return;
    let reports;
    try {
      reports = socket.endpoint.takePathMtuReports();
    } catch {
      return;
    }
    for (const report of reports) {
      const remote = outerKeyOf(report.address);
      for (const tunnel of this.tunnels.values()) {
        if ((tunnel.socket === socket || tunnel.socket6 === socket) && tunnel.remoteAddress === remote) this.#lower(tunnel, report.mtu);
      }
    }
  }

  /**
   * Follows the kernel's own path MTU toward the tunnel's remote (what ICMP taught it, also from
   * other sockets, or a route's MTU), so a path learned before this tunnel sent anything, or one
   * that expired and grew back, sets its MTU too: at the end of this turn, together with the other
   * tunnels added or moved in it. Sends nothing.
   */
  refresh(tunnel: Tunnel): void {
    if (this.io.pathMtus === undefined) return;
    // The tunnels added or moved in one turn (a join or a move storm) are read together at its end.
    if (this.#soon.size === 0) setImmediate(() => this.#compare(this.#takeSoon()));
    this.#soon.add(tunnel);
  }

  #takeSoon(): Tunnel[] {
    const soon = [...this.#soon];
    this.#soon.clear();
    return soon;
  }

  /** Compares every tunnel, a slice each second, while any runs; call after adding or removing one. */
  watch(): void {
    if (this.io.pathMtus === undefined) return;
    if (this.tunnels.size === 0) {
      if (this.#timer !== null) clearInterval(this.#timer);
      this.#timer = null;
      this.#round = [];
      return;
    }
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.#slice(), PATH_MTU_SLICE_MS);
    this.#timer.unref();
  }

  #slice(): void {
    if (this.#round.length === 0) this.#round = [...this.tunnels.values()];
    const slices = PATH_MTU_CHECK_MS / PATH_MTU_SLICE_MS;
    const count = Math.min(this.#round.length, Math.max(Math.ceil(this.tunnels.size / slices), 1), PATH_MTU_CHECKS_PER_SECOND);
    this.#compare(this.#round.splice(this.#round.length - count, count));
  }

  /** Reads the kernel's path MTU for `tunnels` that send, one call per local address, and follows each. */
  #compare(tunnels: readonly Tunnel[]): void {
    const pathMtus = this.io.pathMtus;
    if (pathMtus === undefined) return;
    const byLocal = new Map<string, Tunnel[]>();
    for (const tunnel of tunnels) {
      if (!tunnel.sending || tunnel.closed) continue;
      const local = formatOuterKey(tunnel.localAddress);
      const group = byLocal.get(local);
      if (group === undefined) byLocal.set(local, [tunnel]);
      else group.push(tunnel);
    }
    for (const [local, group] of byLocal) {
      let kernel: (number | null)[];
      try {
        kernel = pathMtus.call(this.io, local, group.map((tunnel) => formatOuterKey(tunnel.remoteAddress)));
      } catch {
        continue;
      }
      group.forEach((tunnel, i) => {
        const mtu = kernel[i];
        if (mtu === null || mtu === undefined) return;
        const learned = mtu < this.pathMtu ? Math.max(mtu, minimumPathMtu(tunnel)) : null;
        if (learned !== tunnel.learnedPathMtu) this.#learn(tunnel, learned);
      });
    }
  }

  #lower(tunnel: Tunnel, reported: number): void {
    const pathMtu = Math.max(reported, minimumPathMtu(tunnel));
    if (pathMtu >= (tunnel.learnedPathMtu ?? this.pathMtu)) return;
    this.#learn(tunnel, pathMtu);
  }

  /** Sets the MTU `learned` gives (after the engine's other work on the tunnel), then re-plans it. */
  #learn(tunnel: Tunnel, learned: number | null): void {
    const remote = tunnel.remoteAddress;
    this.runFor(tunnel, async () => {
      // Learned for the path the tunnel had then: a move since made it another path.
      if (tunnel.closed || tunnel.remoteAddress !== remote || learned === tunnel.learnedPathMtu) return;
      const plan = planEncapsulation(tunnel.spec, this.pathMtu, learned);
      if (plan.mtu < MIN_TUNNEL_MTU) return;
      // A tunnel on a shared device keeps the device's MTU: its own is enforced per packet.
      if (plan.mtu !== tunnel.plan.mtu && tunnel.sharedDestinations === null) {
        const [outcome] = await this.io.configure([{ kind: 'set-mtu', link: tunnel.spec.name, mtu: plan.mtu }]).catch(() => [undefined]);
        if (outcome?.ok !== true || tunnel.closed) return;
      }
      tunnel.setPathMtu(learned, plan);
      this.onPathMtu?.({ name: tunnel.spec.name, pathMtu: learned ?? this.pathMtu, mtu: plan.mtu });
    });
  }
}

/** No path is below the family's minimum link MTU (RFC 8200 §5, RFC 791); a report that says so is wrong. */
function minimumPathMtu(tunnel: Tunnel): number {
  return tunnel.spec.outerFamily === 6 ? 1280 : 576;
}
