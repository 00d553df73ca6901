import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseIpv4Address } from '../../shared/net/ipv4-address.js';
import { parseIpv4Prefix, prefixContains, prefixSize } from '../../shared/net/ipv4-prefix.js';
import { isTunnelError } from '../../shared/errors.js';
import { memoryRegistry } from '../helpers/registry-fixture.js';

// Small pools, deliberately out of address order, so sequences hit exhaustion and pool order.
const POOLS = ['10.3.0.0/29', '10.1.0.0/30', '10.2.0.16/28'];
const PEERS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'];

type Op =
  | { kind: 'add-peer'; peer: string }
  | { kind: 'remove-peer'; peer: string }
  | { kind: 'add-link'; a: string; b: string }
  | { kind: 'remove-link'; a: string; b: string };

const peer = fc.constantFrom(...PEERS);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: peer.map((p) => ({ kind: 'add-peer' as const, peer: p })) },
  { weight: 1, arbitrary: peer.map((p) => ({ kind: 'remove-peer' as const, peer: p })) },
  { weight: 2, arbitrary: fc.tuple(peer, peer).map(([a, b]) => ({ kind: 'add-link' as const, a, b })) },
  { weight: 1, arbitrary: fc.tuple(peer, peer).map(([a, b]) => ({ kind: 'remove-link' as const, a, b })) },
);

/** The lowest free /30 over the pools in creation order, by brute force over the model. */
function expectedNext(used: Set<number>): number | undefined {
  for (const cidr of POOLS) {
    const pool = parseIpv4Prefix(cidr);
    for (let n = pool.network; n < pool.network + prefixSize(pool.length); n += 4) {
      if (!used.has(n)) return n;
    }
  }
  return undefined;
}

describe('the /30 allocator under random add/remove sequences', () => {
  it('never overlaps, stays inside the pools, takes the lowest free /30 and reports exhaustion', async () => {
    // Across all runs, the sequences must actually reach exhaustion and reuse, or they prove little.
    let exhaustions = 0;
    let reuses = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40, size: 'max' }), async (ops) => {
        const registry = await memoryRegistry({ pools: POOLS });
        const pools = POOLS.map(parseIpv4Prefix);
        const everUsed = new Set<number>();
        try {
          for (const step of ops) {
            const used = new Set((await registry.links.list()).map((l) => parseIpv4Address(l.inner[0]) - 1));
            const next = expectedNext(used);
            if (next !== undefined && (step.kind === 'add-peer' || step.kind === 'add-link') && everUsed.has(next)) reuses++;
            try {
              if (step.kind === 'add-peer') {
                const { hubLink } = await registry.peers.add({ name: step.peer });
                expect(parseIpv4Address(hubLink.inner[0]) - 1).toBe(next);
              } else if (step.kind === 'add-link') {
                const link = await registry.links.addPeerLink(step.a, step.b);
                expect(parseIpv4Address(link.inner[0]) - 1).toBe(next);
              } else if (step.kind === 'remove-peer') {
                await registry.peers.remove(step.peer);
              } else {
                await registry.links.removePeerLink(step.a, step.b);
              }
            } catch (err) {
              if (!isTunnelError(err)) throw err;
              if (err.code === 'ERR_POOL_EXHAUSTED') {
                expect(next).toBeUndefined();
                exhaustions++;
              } else {
                expect(['ERR_PEER_EXISTS', 'ERR_PEER_NOT_FOUND', 'ERR_LINK_EXISTS', 'ERR_LINK_NOT_FOUND', 'ERR_INVALID_ARGUMENT']).toContain(err.code);
              }
            }
            const links = await registry.links.list();
            const networks = links.map((l) => parseIpv4Prefix(l.prefix));
            for (const n of networks) everUsed.add(n.network);
            expect(new Set(networks.map((n) => n.network)).size).toBe(networks.length);
            for (const n of networks) {
              expect(n.length).toBe(30);
              expect(pools.some((p) => prefixContains(p, n))).toBe(true);
            }
            for (const l of links) expect(parseIpv4Address(l.inner[1])).toBe(parseIpv4Address(l.inner[0]) + 1);
            expect((await registry.pools.list()).reduce((sum, p) => sum + p.used, 0)).toBe(links.length);
          }
        } finally {
          await registry.close();
        }
      }),
      { numRuns: 120 },
    );
    expect(exhaustions).toBeGreaterThan(0);
    expect(reuses).toBeGreaterThan(0);
  });

  it('exhausts all pools exactly at their combined size and then reuses released /30s', async () => {
    const registry = await memoryRegistry({ pools: POOLS });
    const capacity = POOLS.reduce((sum, cidr) => sum + prefixSize(parseIpv4Prefix(cidr).length) / 4, 0);
    const names = Array.from({ length: capacity }, (_, i) => `n${i}`);
    for (const name of names) await registry.peers.add({ name });
    await expect(registry.peers.add({ name: 'extra' })).rejects.toThrow(expect.objectContaining({ code: 'ERR_POOL_EXHAUSTED' }));
    const freed = (await registry.links.hubLinkOf('n3')).prefix;
    await registry.peers.remove('n3');
    expect((await registry.peers.add({ name: 'extra' })).hubLink.prefix).toBe(freed);
  });
});
