import { expect } from 'vitest';
import { Registry } from '../../server/registry/registry.js';
import { isTunnelError, type TunnelErrorCode } from '../../shared/errors.js';

/** A fake clock the tests move by hand. */
export interface FakeClock {
  (): number;
  advance(ms: number): void;
}

/** A clock starting at a fixed instant (2026-01-01T00:00:00Z). */
export function fakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let now = start;
  const clock = (() => now) as FakeClock;
  clock.advance = (ms: number) => {
    now += ms;
  };
  return clock;
}

/** An in-memory registry initialised with a hub endpoint and, optionally, pools. */
export async function memoryRegistry(options: { pools?: string[]; clock?: FakeClock } = {}): Promise<Registry> {
  const registry = await Registry.open(':memory:', { clock: options.clock ?? fakeClock() });
  await registry.settings.setEndpoint('198.51.100.1');
  for (const pool of options.pools ?? []) await registry.pools.add(pool);
  return registry;
}

/** Runs `fn`, expects a TunnelError with `code`, and checks every table is exactly as before. */
export async function expectRefusedUnchanged(registry: Registry, code: TunnelErrorCode, fn: () => Promise<unknown>): Promise<string> {
  const before = await registry.exportTables();
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(isTunnelError(caught), `expected a TunnelError ${code}, got ${String(caught)}`).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
  expect(await registry.exportTables()).toEqual(before);
  return (caught as Error).message;
}
