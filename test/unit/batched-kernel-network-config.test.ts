import { describe, expect, it } from 'vitest';
import { TunnelError } from '../../shared/errors.js';
import { batchedKernelNetworkConfig } from '../../shared/system/batched-kernel-network-config.js';
import type { KernelChange, KernelOutcome } from '../../shared/system/kernel-change.js';
import type { KernelNetworkConfig } from '../../shared/system/kernel-network-config.js';

/** A kernel configuration that records each batch it is given and refuses the MTU 1300. */
function recording(): KernelNetworkConfig & { batches: KernelChange[][]; failNext: boolean } {
  const config = {
    batches: [] as KernelChange[][],
    failNext: false,
    async apply(changes: readonly KernelChange[]): Promise<KernelOutcome[]> {
      config.batches.push([...changes]);
      if (config.failNext) {
        config.failNext = false;
        throw new TunnelError('ERR_SYSTEM', 'no netlink socket');
      }
      return changes.map((change) => (change.kind === 'set-mtu' && change.mtu === 1300
        ? { ok: false, error: new TunnelError('ERR_SYSTEM', `setting the MTU of ${change.link}: refused`) } : { ok: true }));
    },
    listLinks: async () => [],
  };
  return config;
}

const mtu = (link: string, value: number): KernelChange => ({ kind: 'set-mtu', link, mtu: value });

describe('batchedKernelNetworkConfig: the changes of one turn go to the kernel as one batch', () => {
  it('joins the applies of one turn into one batch, and gives each caller its own outcomes', async () => {
    const kernel = recording();
    const batched = batchedKernelNetworkConfig(kernel);
    const outcomes = await Promise.all(Array.from({ length: 500 }, (_, i) => batched.apply([mtu(`tnl-m${i}`, i === 7 ? 1300 : 1400), { kind: 'set-up', link: `tnl-m${i}`, up: true }])));
    expect(kernel.batches).toHaveLength(1);
    expect(kernel.batches[0]).toHaveLength(1000);
    expect(outcomes.map((o) => o.length)).toEqual(Array(500).fill(2));
    expect(outcomes[7]![0]).toMatchObject({ ok: false, error: { code: 'ERR_SYSTEM', message: expect.stringContaining('tnl-m7') } });
    expect(outcomes.filter((o) => o.every((outcome) => outcome.ok))).toHaveLength(499);
  });

  it('refuses a malformed change to its own caller only, before anything is sent', async () => {
    const kernel = recording();
    const batched = batchedKernelNetworkConfig(kernel);
    const [bad, good] = await Promise.allSettled([batched.apply([mtu('tnl-a', 1)]), batched.apply([mtu('tnl-b', 1400)])]);
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'ERR_INVALID_ARGUMENT' } });
    expect(good).toMatchObject({ status: 'fulfilled', value: [{ ok: true }] });
    expect(kernel.batches).toEqual([[mtu('tnl-b', 1400)]]);
  });

  it('a batch that cannot run refuses its callers, and the next batch runs', async () => {
    const kernel = recording();
    const batched = batchedKernelNetworkConfig(kernel);
    kernel.failNext = true;
    const first = await Promise.allSettled([batched.apply([mtu('tnl-a', 1400)]), batched.apply([mtu('tnl-b', 1400)])]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await batched.apply([mtu('tnl-c', 1400)])).toEqual([{ ok: true }]);
    expect(kernel.batches).toHaveLength(2);
  });
});
