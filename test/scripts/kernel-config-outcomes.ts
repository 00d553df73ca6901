import type { KernelChange, KernelOutcome } from '../../shared/system/kernel-change.js';
import type { KernelNetworkConfig } from '../../shared/system/kernel-network-config.js';
import { createIpKernelNetworkConfig } from '../../shared/system/ip-kernel-network-config.js';
import { createRtnetlinkKernelNetworkConfig } from '../../shared/system/rtnetlink-kernel-network-config.js';

/** Each implementation of the kernel configuration seam, by name. */
export const kernelConfigs = { ip: createIpKernelNetworkConfig(), rtnetlink: createRtnetlinkKernelNetworkConfig() };

/** An implementation's name. */
export type KernelConfigName = keyof typeof kernelConfigs;

/** A refusal as a test compares it. */
export interface BriefRefusal {
  code: string;
  name: string;
  message: string;
}

/** An outcome as a test compares it: 'ok', how IPv6 forwarding went, or the refusal. */
export type BriefOutcome = 'ok' | { ipv6Forwarding: string } | BriefRefusal;

/** A thrown coded error reduced to what a test compares. */
export function briefRefusal(err: unknown): BriefRefusal {
  const { code, name, message } = err as { code: string; name: string; message: string };
  return { code, name, message };
}

/** The outcomes reduced to what a test compares. */
export function brief(outcomes: KernelOutcome[]): BriefOutcome[] {
  return outcomes.map((o) => (o.ok ? (o.ipv6Forwarding ? { ipv6Forwarding: o.ipv6Forwarding } : 'ok') : briefRefusal(o.error)));
}

/** Makes `changes` through `config`, briefly. */
export async function applyBrief(config: KernelNetworkConfig, changes: readonly KernelChange[]): Promise<BriefOutcome[]> {
  return brief(await config.apply(changes));
}
