import type { TunnelError } from '../errors.js';

/**
 * A route the process installs: `prefix` (a canonical IPv4 or IPv6 CIDR) through interface `link`
 * at `metric`, or, with `link` null, an `unreachable` route (the kernel answers ICMP unreachable).
 * With `local`, a route of type local in table local (`ip route add local PREFIX dev LINK table
 * local`): the host takes the prefix's packets as its own, as for an address of its, without the
 * address. `source`: the source of packets the host sends by the route (`src`; for IPv4 an
 * address the host holds, by an address or a local route; for IPv6 an address on an interface).
 */
export interface KernelRoute {
  readonly prefix: string;
  readonly link: string | null;
  readonly metric: number;
  readonly local?: boolean;
  readonly source?: string;
}

/** One change to the kernel's network configuration, naming interfaces by name. */
export type KernelChange =
  | { readonly kind: 'set-mtu'; readonly link: string; readonly mtu: number }
  /** An Ethernet device's MAC address (a TAP's, before it goes up): six lower-case hex pairs with colons. */
  | { readonly kind: 'set-mac'; readonly link: string; readonly mac: string }
  | { readonly kind: 'set-up'; readonly link: string; readonly up: boolean }
  /**
   * Adds an address, or refreshes it when present. IPv4: `cidr` is local/prefix; with `peer` the
   * prefix belongs to the peer (`ip addr add LOCAL peer PEER/PREFIX`, a point-to-point /30 as
   * community meshes number them). IPv6: address/prefix, without duplicate detection, so it is
   * usable at once on a tunnel that has no neighbours to collide with.
   */
  | { readonly kind: 'add-address'; readonly link: string; readonly cidr: string; readonly peer?: string }
  /** Removes an address added as above (same `cidr` and `peer`), leaving the interface's others. */
  | { readonly kind: 'delete-address'; readonly link: string; readonly cidr: string; readonly peer?: string }
  /** Installs the route, replacing one for the same prefix and metric. */
  | { readonly kind: 'replace-route'; readonly route: KernelRoute }
  | { readonly kind: 'delete-route'; readonly route: KernelRoute }
  /** Deletes an interface (a TUN device also disappears by itself when its descriptor closes). */
  | { readonly kind: 'delete-link'; readonly link: string }
  /**
   * Marks whose interface it is: link group `group` (1-2^32-1; 0 is every interface's default)
   * and alias `alias` (1-255 bytes), as `ip link set dev LINK group GROUP alias ALIAS`.
   */
  | { readonly kind: 'mark-link'; readonly link: string; readonly group: number; readonly alias: string }
  /**
   * Deletes every interface of link group `group` in one go (`ip link del group GROUP`): the kernel
   * unregisters them together, one RCU grace period for all, where a deletion (or a TUN's close)
   * per interface waits for one each. Refused with ERR_DEVICE_NOT_FOUND when the group is empty.
   */
  | { readonly kind: 'delete-link-group'; readonly group: number }
  /** Lets the kernel forward packets that arrive on the interface, IPv4 and IPv6 (see Ipv6Forwarding). */
  | { readonly kind: 'enable-forwarding'; readonly link: string };

/**
 * How IPv6 forwarding was turned on for an interface: its own switch (`force_forwarding`, Linux
 * 6.17+), the switch for all interfaces on an older kernel (which also stops router advertisements
 * being accepted on interfaces left at accept_ra=1), or not at all on a kernel without IPv6.
 */
export type Ipv6Forwarding = 'interface' | 'all-interfaces' | 'no-ipv6';

/** An interface as listLinks finds it: its name, link group (0: the default) and alias (null: none). */
export interface KernelLink {
  readonly name: string;
  readonly group: number;
  readonly alias: string | null;
}

/** What became of one change: done (an enable-forwarding says how for IPv6), or refused with a coded error. */
export type KernelOutcome =
  | { readonly ok: true; readonly ipv6Forwarding?: Ipv6Forwarding }
  | { readonly ok: false; readonly error: TunnelError };
