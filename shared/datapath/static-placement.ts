import { ipv6KeyBytes, type OuterKey } from './outer-address.js';
import type { OuterSocket } from './outer-socket.js';
import type { Tunnel, TunnelPlacement } from './tunnel.js';
import { HubBinding } from './udp-binding-hub.js';

/**
 * A tunnel with a configured remote (no auth, or the member end): it sends there and holds the
 * demux entry (remote, sub-key) on its socket, and on its second socket for ipip over IPv6.
 */
export class StaticPlacement implements TunnelPlacement {
  readonly sending = true;
  readonly address6: Uint8Array | null;
  private readonly sockets: readonly OuterSocket[];

  constructor(
    private readonly tunnel: Tunnel,
    socket: OuterSocket,
    socket6: OuterSocket,
    readonly address: OuterKey,
    readonly port: number,
    /** The GRE key (gre, gretap), the remote UDP port (fou, gue) or 0 (ipip): see OuterSocket. */
    private readonly subKey: number,
  ) {
    this.sockets = socket6 === socket ? [socket] : [socket, socket6];
    this.address6 = socket.family === 6 ? ipv6KeyBytes(address) : null;
  }

  get receiving(): boolean {
    return this.sockets[0]!.lookup(this.address, this.subKey) === this.tunnel;
  }

  /**
   * Registers the tunnel under its remote. A configured remote outranks a claimed one: a hub-role
   * tunnel bound there (a hello that came, or was forged, from that address:port) gives it up.
   */
  join(): void {
    for (const socket of this.sockets) {
      const holder = socket.lookup(this.address, this.subKey);
      if (holder !== undefined && holder !== this.tunnel && holder.placement instanceof HubBinding) holder.placement.displace();
      socket.register(this.tunnel, this.address, this.subKey);
    }
  }

  leave(): void {
    for (const socket of this.sockets) socket.unregister(this.tunnel, this.address, this.subKey);
  }

  bindingStatus(): null {
    return null;
  }
}
