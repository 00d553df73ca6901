import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTunnelError } from '../shared/errors.js';
import { Registry } from '../server/registry/registry.js';
import { SubnetAllocator } from '../server/registry/subnet-allocator.js';

// Allocates every /30 of a /16 pool (16,384 hub links, one per new peer), releases them all, and
// allocates them again from the released list, on a real WAL database file. Each peer add is the
// full operation: peer row, hub link, GRE key, /30 and audit entry. Run first with everything in
// one transaction (the allocator's own cost), then one transaction per peer, as
// separate `tunnel-hub peer add` commands would (adding a commit, ~14 pages, to each).

const POOL = '10.64.0.0/16';
const SUBNETS = 2 ** (32 - 16) / 4;
const SLICE = 1024;

// Time spent inside the allocator proper (finding and taking the /30), apart from the rest of a
// peer add (peer row, link row, audit entry, commit).
let allocatorNs = 0n;
const allocate = SubnetAllocator.prototype.allocate;
SubnetAllocator.prototype.allocate = async function timedAllocate(this: SubnetAllocator, ...args: Parameters<typeof allocate>) {
  const start = process.hrtime.bigint();
  try {
    return await allocate.apply(this, args);
  } finally {
    allocatorNs += process.hrtime.bigint() - start;
  }
};

function takeAllocatorSeconds(): number {
  const seconds = Number(allocatorNs) / 1e9;
  allocatorNs = 0n;
  return seconds;
}

function elapsedSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function report(label: string, elapsed: number): void {
  const perOp = (elapsed / SUBNETS) * 1e6;
  console.log(`${label.padEnd(50)} ${elapsed.toFixed(3).padStart(7)} s  ${perOp.toFixed(1).padStart(6)} µs each`);
}

async function expectExhausted(registry: Registry): Promise<void> {
  try {
    await registry.peers.add({ name: 'one-too-many' });
  } catch (err) {
    if (isTunnelError(err, 'ERR_POOL_EXHAUSTED')) return;
    throw err;
  }
  throw new Error('the pool should be exhausted');
}

async function expectUsed(registry: Registry, used: number): Promise<void> {
  const [pool] = await registry.pools.list();
  if (pool?.used !== used) throw new Error(`expected ${used} used /30s, found ${pool?.used}`);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-registry-'));
const registry = await Registry.open(join(dir, 'registry.sqlite'));
try {
  await registry.settings.setEndpoint('198.51.100.1');
  await registry.pools.add(POOL);
  const names = Array.from({ length: SUBNETS }, (_, i) => `p${i}`);
  console.log(`pool ${POOL}: ${SUBNETS} link /30s; WAL database in ${tmpdir()}`);

  let start = process.hrtime.bigint();
  takeAllocatorSeconds();
  await registry.transaction(async (tx) => {
    for (const name of names) await tx.peers.add({ name });
  });
  report(`allocate all ${SUBNETS} /30s, one transaction`, elapsedSince(start));
  report('  of which in the allocator itself', takeAllocatorSeconds());
  await expectExhausted(registry);
  await expectUsed(registry, SUBNETS);

  start = process.hrtime.bigint();
  await registry.transaction(async (tx) => {
    for (const name of names) await tx.peers.remove(name);
  });
  report(`release all ${SUBNETS} /30s, one transaction`, elapsedSince(start));
  await expectUsed(registry, 0);

  // Per-peer transactions; the first and last 1,024 adds are timed apart to show that an
  // allocation costs the same whether the pool is empty or nearly full (no scan of used rows).
  const slices: number[] = [];
  takeAllocatorSeconds();
  start = process.hrtime.bigint();
  let sliceStart = start;
  for (const [i, name] of names.entries()) {
    await registry.peers.add({ name });
    if ((i + 1) % SLICE === 0) {
      slices.push(elapsedSince(sliceStart));
      sliceStart = process.hrtime.bigint();
    }
  }
  report(`re-allocate all ${SUBNETS} released /30s, a transaction each`, elapsedSince(start));
  report('  of which in the allocator itself', takeAllocatorSeconds());
  console.log(`  first ${SLICE}: ${((slices[0] ?? 0) * 1e6 / SLICE).toFixed(1)} µs each, last ${SLICE}: ${((slices.at(-1) ?? 0) * 1e6 / SLICE).toFixed(1)} µs each`);
  await expectExhausted(registry);

  start = process.hrtime.bigint();
  for (const name of names) await registry.peers.remove(name);
  report(`release all ${SUBNETS} /30s, a transaction each`, elapsedSince(start));
  await expectUsed(registry, 0);

  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB`);
} finally {
  await registry.close();
  rmSync(dir, { recursive: true, force: true });
}
