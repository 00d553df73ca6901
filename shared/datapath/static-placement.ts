import { ipv6KeyBytes, type OuterKey } from './outer-address.js';
import type { OuterSocket } from './outer-socket.js';
import type { Tunnel, TunnelPlacement } from './tunnel.js';
import { HubBinding } from './udp-binding-hub.js';

/**
 * A tunnel with a configured remote (no auth, or the member end): it sends there and holds the
 * demux entry (remote, sub-key) on its socket, on its second socket for ipip over IPv6, and on an
 * encrypted tunnel's cleartext trap (where cleartext from the remote is counted and dropped).
 */
export class StaticPlacement implements TunnelPlacement {
  readonly sending = true;
  readonly address6: Uint8Array | null;
  private readonly entries: readonly { socket: OuterSocket; subKey: number }[];

  constructor(
    private readonly tunnel: Tunnel,
    socket: OuterSocket,
    socket6: OuterSocket,
    readonly address: OuterKey,
    readonly port: number,
    /** The GRE key (gre, gretap), the remote UDP port (fou, gue, ESP in UDP) or 0 (ipip, raw ESP): see OuterSocket. */
    private readonly subKey: number,
    trap: { socket: OuterSocket; subKey: number } | null = null,
  ) {
    this.entries = [
      { socket, subKey },
      ...(socket6 !== socket ? [{ socket: socket6, subKey }] : []),
      ...(trap !== null ? [trap] : []),
    ];
    this.address6 = socket.family === 6 ? ipv6KeyBytes(address) : null;
  }

  get receiving(): boolean {
    return this.entries[0]!.socket.lookup(this.address, this.subKey) === this.tunnel;
  }

  /**
   * Registers the tunnel under its remote. A configured remote outranks a claimed one: a hub-role
   * tunnel bound there (a hello that came, or was forged, from that address:port) gives it up.
   */
  join(): void {
    for (const { socket, subKey } of this.entries) {
      const holder = socket.lookup(this.address, subKey);
      if (holder !== undefined && holder !== this.tunnel && holder.placement instanceof HubBinding) holder.placement.displace();
      socket.register(this.tunnel, this.address, subKey);
    }
  }

  leave(): void {
    for (const { socket, subKey } of this.entries) socket.unregister(this.tunnel, this.address, subKey);
  }

  bindingStatus(): null {
    return null;
  }
}
