import type { KernelChange, KernelLink, KernelOutcome } from './kernel-change.js';

/**
 * The one way this process changes the kernel's network configuration (links, addresses, routes,
 * forwarding switches): the datapath's interfaces, the routing's routes and the hub's forwarding
 * all go through it. Two implementations: `ip` (ip-kernel-network-config.ts) and rtnetlink
 * (rtnetlink-kernel-network-config.ts); system-kernel-network-config.ts chooses the one the
 * process uses.
 */
export interface KernelNetworkConfig {
  /**
   * Makes `changes` in order, trying every one, and resolves with one outcome per change: a change
   * the kernel refuses is a failed outcome (ERR_PERMISSION, ERR_DEVICE_NOT_FOUND,
   * ERR_ALREADY_EXISTS, ERR_RESOURCE_LIMIT, else ERR_SYSTEM). It rejects with a TunnelError only
   * when it cannot try: a malformed change anywhere in the batch (ERR_INVALID_ARGUMENT,
   * ERR_INVALID_CIDR, ERR_INVALID_ADDRESS; nothing is made), or no mechanism (no `ip` installed,
   * no netlink socket).
   */
  apply(changes: readonly KernelChange[]): Promise<KernelOutcome[]>;
  /**
   * The interfaces whose names start with `prefix`, with their link group and alias: which of
   * them a process marked as its own (mark-link), e.g. devices a crashed hub left behind.
   */
  listLinks(prefix: string): Promise<KernelLink[]>;
}
