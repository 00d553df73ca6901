import { checkKernelChanges } from './check-kernel-changes.js';
import type { KernelChange, KernelOutcome } from './kernel-change.js';
import type { KernelNetworkConfig } from './kernel-network-config.js';
import { TurnBatcher } from './turn-batcher.js';

/**
 * `config` with the changes of every apply of the same turn (or made while a batch is with the
 * kernel) joined into one apply of it: one batch of requests for the tunnels of many members
 * joining at once. Each caller's changes are checked on their own first, so a malformed change
 * refuses only its own caller; a batch that cannot run at all refuses every caller in it.
 */
export function batchedKernelNetworkConfig(config: KernelNetworkConfig): KernelNetworkConfig {
  const batcher = new TurnBatcher<KernelChange, KernelOutcome>((changes) => config.apply(changes));
  return {
    async apply(changes) {
      checkKernelChanges(changes);
      return batcher.submit(changes);
    },
    listLinks: (prefix) => config.listLinks(prefix),
  };
}
