import { batchedKernelNetworkConfig } from './batched-kernel-network-config.js';
import type { KernelNetworkConfig } from './kernel-network-config.js';
import { rtnetlinkKernelNetworkConfig } from './rtnetlink-kernel-network-config.js';

/**
 * The kernel configuration this process uses (this line chooses the implementation): rtnetlink
 * in the addon, off the event loop, the changes of one turn joined into one batch.
 */
export const systemKernelNetworkConfig: KernelNetworkConfig = batchedKernelNetworkConfig(rtnetlinkKernelNetworkConfig);
