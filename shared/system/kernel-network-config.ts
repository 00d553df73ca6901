import type { KernelChange, KernelOutcome } from './kernel-change.js';

/**
 * The one way this process changes the kernel's network configuration (links, addresses, routes,
 * forwarding switches): the datapath's interfaces, the routing's routes and the hub's forwarding
 * all go through it. One implementation speaks `ip` (ip-kernel-network-config.ts);
 * system-kernel-network-config.ts chooses the one the process uses.
 */
export interface KernelNetworkConfig {
  /**
   * Makes `changes` in order, trying every one, and gives one outcome per change: a change the
   * kernel refuses is a failed outcome, never a throw. It throws a TunnelError only when it cannot
   * try at all: a change that is malformed (nothing is then made: ERR_INVALID_ARGUMENT,
   * ERR_INVALID_CIDR, ERR_INVALID_ADDRESS), or the mechanism missing (no `ip` installed).
   * Synchronous: the caller is blocked until the kernel has answered every change.
   */
  applySync(changes: readonly KernelChange[]): KernelOutcome[];
}
