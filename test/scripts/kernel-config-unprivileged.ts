/**
 * Run without CAP_NET_ADMIN: asks every implementation of the kernel configuration seam for
 * changes (an MTU and forwarding, then a route). Prints { ip: { changes, route }, rtnetlink: … }
 * of brief outcomes.
 */
import { applyBrief, kernelConfigs, type BriefOutcome } from './kernel-config-outcomes.js';

const result: Record<string, { changes: BriefOutcome[]; route: BriefOutcome[] }> = {};
for (const [name, config] of Object.entries(kernelConfigs)) {
  result[name] = {
    changes: await applyBrief(config, [{ kind: 'set-mtu', link: 'lo', mtu: 1400 }, { kind: 'enable-forwarding', link: 'lo' }]),
    route: await applyBrief(config, [{ kind: 'replace-route', route: { prefix: '10.9.0.0/24', link: 'lo', metric: 0 } }]),
  };
}
console.log(JSON.stringify(result));
