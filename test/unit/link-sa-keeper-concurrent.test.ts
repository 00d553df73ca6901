import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LinkSaKeeper, type KeptLinkRequest, type SaKeeperRegistry } from '../../server/control/link-sa-keeper.js';
import type { SaEpochRecord } from '../../server/registry/link-sa-epoch-store.js';

/** Epochs in memory, each write answered after a turn of the event loop as a database would. */
function slowRegistry(): SaKeeperRegistry & { made: number } {
  const epochs = new Map<number, SaEpochRecord>();
  let next = 1;
  const master = randomBytes(32).toString('base64url');
  const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
  return {
    made: 0,
    espMasterKey: async () => master,
    latestSaEpochs: async (ids) => {
      await turn();
      return new Map(ids.flatMap((id) => (epochs.has(id) ? [[id, epochs.get(id)!] as const] : [])));
    },
    async startSaEpoch(linkId, aead, reason) {
      await turn();
      const record = { epoch: next++, aead, reason, createdAt: Date.now() };
      epochs.set(linkId, record);
      this.made++;
      return record;
    },
  };
}

describe('LinkSaKeeper.prepare', () => {
  it('gives both ends of a new peer link, planned at once, the same epoch and SAs', async () => {
    const registry = slowRegistry();
    const keeper = new LinkSaKeeper({ registry, hooks: { settle: async () => true }, log: pino({ level: 'silent' }) });
    try {
      const request: KeptLinkRequest = { linkId: 3, ends: ['c1', 'c2'], owners: 'sessions s1 s2', rekeysHere: true };
      const [forC1, forC2] = await Promise.all([keeper.prepare([request]), keeper.prepare([{ ...request, rekeysHere: false }])]);
      expect(registry.made).toBe(1);
      expect(forC1.get(3)?.state.current).toBe(forC2.get(3)?.state.current);
      expect([...forC1.get(3)!.pairs.values()]).toEqual([...forC2.get(3)!.pairs.values()]);
    } finally {
      keeper.close();
    }
  });

  it('still makes a new epoch when an end comes back with a new session', async () => {
    const registry = slowRegistry();
    const keeper = new LinkSaKeeper({ registry, hooks: { settle: async () => true }, log: pino({ level: 'silent' }) });
    try {
      const request: KeptLinkRequest = { linkId: 3, ends: ['c1', 'c2'], owners: 'sessions s1 s2', rekeysHere: true };
      const first = await keeper.prepare([request]);
      const again = await keeper.prepare([{ ...request, owners: 'sessions s1 s3' }]);
      expect(registry.made).toBe(2);
      expect(again.get(3)!.state.current).toBeGreaterThan(first.get(3)!.state.current);
    } finally {
      keeper.close();
    }
  });
});
