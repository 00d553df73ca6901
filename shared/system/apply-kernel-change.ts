import { TunnelError } from '../errors.js';
import type { KernelChange, KernelOutcome } from './kernel-change.js';
import type { KernelNetworkConfig } from './kernel-network-config.js';
import { systemKernelNetworkConfig } from './system-kernel-network-config.js';

/** Makes one change and resolves with its outcome, or rejects with the coded TunnelError of its refusal. */
export async function applyKernelChange(change: KernelChange, config: KernelNetworkConfig = systemKernelNetworkConfig): Promise<Extract<KernelOutcome, { ok: true }>> {
  const [outcome] = await config.apply([change]);
  if (outcome === undefined) throw new TunnelError('ERR_INTERNAL', 'the kernel configuration gave no outcome');
  if (!outcome.ok) throw outcome.error;
  return outcome;
}
