import { ipKernelNetworkConfig } from './ip-kernel-network-config.js';
import type { KernelNetworkConfig } from './kernel-network-config.js';

/** The kernel configuration this process uses (this line chooses the implementation). */
export const systemKernelNetworkConfig: KernelNetworkConfig = ipKernelNetworkConfig;
