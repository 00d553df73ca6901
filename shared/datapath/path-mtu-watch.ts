import type { DatapathIo } from './datapath-io.js';
import { planEncapsulation } from './encapsulation-plan.js';
import { formatOuterKey, outerKeyOf } from './outer-address.js';
import { MIN_TUNNEL_MTU } from './tunnel-spec.js';
import type { Tunnel, TunnelSocket } from './tunnel.js';

/** How often each tunnel's path MTU is compared with the kernel's. */
const PATH_MTU_CHECK_MS = 10_000;

/** A tunnel's outer path MTU changed, and so its MTU. */
export interface PathMtuEvent {
  name: string;
  pathMtu: number;
  mtu: number;
}

/**
 * Follows the outer path MTU toward each tunnel's remote: ICMP reports read from a socket's error
 * queue lower it at once, and the kernel's own estimate is compared on add, on a move and every
 * 10 s. A change re-plans the tunnel (TUN link MTU, fast route) and is reported to `onPathMtu`.
 */
export class PathMtuWatch {
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly io: DatapathIo,
    private readonly tunnels: ReadonlyMap<string, Tunnel>,
    /** The outer path MTU assumed when nothing says less. */
    private readonly pathMtu: number,
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
   * that expired and grew back, sets its MTU too. Sends nothing.
   */
  refresh(tunnel: Tunnel): void {
    if (this.io.pathMtu === undefined || !tunnel.sending || tunnel.closed) return;
    let kernel: number;
    try {
      kernel = this.io.pathMtu(formatOuterKey(tunnel.localAddress), formatOuterKey(tunnel.remoteAddress));
    } catch {
      return;
    }
    const learned = kernel < this.pathMtu ? Math.max(kernel, minimumPathMtu(tunnel)) : null;
    if (learned !== tunnel.learnedPathMtu) this.#learn(tunnel, learned);
  }

  /** Runs refresh over every tunnel while any runs; call after adding or removing one. */
  watch(): void {
    if (this.io.pathMtu === undefined) return;
    if (this.tunnels.size === 0) {
      if (this.#timer !== null) clearInterval(this.#timer);
      this.#timer = null;
      return;
    }
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      for (const tunnel of this.tunnels.values()) this.refresh(tunnel);
    }, PATH_MTU_CHECK_MS);
    this.#timer.unref();
  }

  #lower(tunnel: Tunnel, reported: number): void {
    const pathMtu = Math.max(reported, minimumPathMtu(tunnel));
    if (pathMtu >= (tunnel.learnedPathMtu ?? this.pathMtu)) return;
    this.#learn(tunnel, pathMtu);
  }

  #learn(tunnel: Tunnel, learned: number | null): void {
    const plan = planEncapsulation(tunnel.spec, this.pathMtu, learned);
    if (plan.mtu < MIN_TUNNEL_MTU) return;
    if (plan.mtu !== tunnel.plan.mtu) {
      try {
        this.io.setLinkMtu(tunnel.spec.name, plan.mtu);
      } catch {
        return;
      }
    }
    tunnel.setPathMtu(learned, plan);
    this.onPathMtu?.({ name: tunnel.spec.name, pathMtu: learned ?? this.pathMtu, mtu: plan.mtu });
  }
}

/** No path is below the family's minimum link MTU (RFC 8200 §5, RFC 791); a report that says so is wrong. */
function minimumPathMtu(tunnel: Tunnel): number {
  return tunnel.spec.outerFamily === 6 ? 1280 : 576;
}
