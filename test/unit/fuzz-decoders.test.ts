import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertWellFormedResult,
  framedArbitrary,
  mutatedPacketArbitrary,
  randomPacketArbitrary,
} from '../fixtures/wire/fuzz-arbitraries.js';
import { FUZZ_TARGETS } from '../fixtures/wire/fuzz-targets.js';

// The issue asks for at least 100,000 random and 100,000 mutated buffers per decoder.
const RUNS = 100_000;
const TIMEOUT_MS = 180_000;

describe.each(FUZZ_TARGETS)('fuzz $name', (target) => {
  it('decodes every seed (the mutants start from valid packets)', () => {
    for (const seed of target.seeds) {
      const packet = Buffer.from(seed, 'hex');
      const result = target.decode(packet, 0, packet.length);
      assertWellFormedResult(result, 0, packet.length);
      // Keepalive seeds include plain data on purpose; every other seed must decode.
      if (target.name !== 'decodeGreKeepalive') expect(result, seed).toMatchObject({ ok: true });
    }
  });

  it(
    `${RUNS} random buffers: a typed result, in bounds, never a throw`,
    () => {
      fc.assert(
        fc.property(framedArbitrary(randomPacketArbitrary()), ({ buffer, offset, length }) => {
          assertWellFormedResult(target.decode(buffer, offset, length), offset, length);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    `${RUNS} mutated valid packets: a typed result, in bounds, never a throw`,
    () => {
      const outcomes = new Map<string, number>();
      fc.assert(
        fc.property(framedArbitrary(mutatedPacketArbitrary(target.seeds, target.repair)), ({ buffer, offset, length }) => {
          const result = target.decode(buffer, offset, length) as { ok: boolean; reason?: string };
          assertWellFormedResult(result, offset, length);
          const key = result.ok ? 'ok' : result.reason!;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        }),
        { numRuns: RUNS },
      );
      // The mutants must exercise both acceptance and several distinct refusals, or the fuzzing
      // would only be hammering the first check.
      expect(outcomes.get('ok') ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(RUNS / 100);
      expect([...outcomes.keys()].filter((k) => k !== 'ok').length, JSON.stringify([...outcomes])).toBeGreaterThanOrEqual(2);
    },
    TIMEOUT_MS,
  );

  it('refuses windows that are not inside the buffer, without throwing', () => {
    const packet = Buffer.from(target.seeds[0]!, 'hex');
    for (const [offset, length] of [
      [-1, packet.length],
      [0, packet.length + 1],
      [packet.length, 1],
      [1.5, 4],
      [0, Number.NaN],
      [Number.MAX_SAFE_INTEGER, 4],
    ] as const) {
      expect(target.decode(packet, offset, length)).toMatchObject({ ok: false, reason: 'truncated' });
    }
  });
});
