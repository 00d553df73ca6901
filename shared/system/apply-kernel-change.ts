import { TunnelError } from '../errors.js';
import type { KernelChange, KernelOutcome } from './kernel-change.js';
import type { KernelNetworkConfig } from './kernel-network-config.js';
import { systemKernelNetworkConfig } from './system-kernel-network-config.js';

/** Makes one change now and returns its outcome, or throws the coded TunnelError of its refusal. */
export function applyKernelChange(change: KernelChange, config: KernelNetworkConfig = systemKernelNetworkConfig): Extract<KernelOutcome, { ok: true }> {
  const [outcome] = config.applySync([change]);
  if (outcome === undefined) throw new TunnelError('ERR_INTERNAL', 'the kernel configuration gave no outcome');
  if (!outcome.ok) throw outcome.error;
  return outcome;
}
