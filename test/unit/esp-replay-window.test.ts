import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createEspInbound,
  createEspReplayWindow,
  createEspSa,
  createEspSlotResults,
  createPacketBatch,
  ESP_REPLAY_WINDOW,
  espOutcomeName,
  type EspReplayVerdict,
} from '../../native/index.js';

// The anti-replay window the addon ships (native/src/esp-replay-window.h), reached through the
// addon, against the plain definition of RFC 4303 §3.4.3: a sequence number is fresh when it is
// above every one seen, or within the window below the highest and not seen yet.

/** The specification, kept as simple as can be: every accepted number in a set. */
class ModelWindow {
  highest = 0;
  readonly seen = new Set<number>();

  check(sequence: number): EspReplayVerdict {
    if (sequence === 0) return 'stale';
    if (sequence > this.highest) return 'fresh';
    if (this.highest - sequence >= ESP_REPLAY_WINDOW) return 'stale';
    return this.seen.has(sequence) ? 'duplicate' : 'fresh';
  }

  accept(sequence: number): void {
    this.seen.add(sequence);
    this.highest = Math.max(this.highest, sequence);
  }
}

/** Runs `sequences` through the native window and the model; the verdicts must agree at every step. */
function agree(sequences: readonly number[]): EspReplayVerdict[] {
  const native = createEspReplayWindow();
  const model = new ModelWindow();
  const verdicts: EspReplayVerdict[] = [];
  for (const sequence of sequences) {
    const verdict = native.check(sequence);
    const expected = model.check(sequence);
    if (verdict !== expected) throw new Error(`sequence ${sequence} after ${JSON.stringify(sequences.slice(0, verdicts.length))}: native ${verdict}, model ${expected}`);
    if (verdict === 'fresh') {
      native.accept(sequence);
      model.accept(sequence);
    }
    if (native.highest !== model.highest) throw new Error(`highest ${native.highest} vs ${model.highest}`);
    verdicts.push(verdict);
  }
  return verdicts;
}

/**
 * Sequence numbers as a receiver sees them: mostly climbing, with reordering inside and beyond
 * the window, duplicates, jumps, and the edges of the 32-bit space.
 */
const traffic = fc
  .tuple(
    fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0xffff_ffff - 5000, max: 0xffff_ffff })),
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }).map((step) => ({ kind: 'next' as const, step })) },
        { weight: 3, arbitrary: fc.integer({ min: 0, max: ESP_REPLAY_WINDOW + 70 }).map((back) => ({ kind: 'back' as const, back })) },
        { weight: 1, arbitrary: fc.integer({ min: 60, max: 3 * ESP_REPLAY_WINDOW }).map((step) => ({ kind: 'next' as const, step })) },
        { weight: 1, arbitrary: fc.nat(40).map((back) => ({ kind: 'repeat' as const, back })) },
      ),
      { maxLength: 400 },
    ),
  )
  .map(([start, moves]) => {
    const sequences: number[] = [];
    let top = start;
    for (const move of moves) {
      if (move.kind === 'next') top = Math.min(0xffff_ffff, top + move.step);
      const sequence =
        move.kind === 'next' ? top
        : move.kind === 'back' ? Math.max(0, top - move.back)
        : (sequences[Math.max(0, sequences.length - 1 - move.back)] ?? top);
      sequences.push(sequence);
    }
    return sequences;
  });

describe('ESP replay window (the addon\'s, against RFC 4303 §3.4.3)', () => {
  it(`is ${ESP_REPLAY_WINDOW} packets wide, as the addon says`, async () => {
    // The one constant JS keeps, checked against the compiled one.
    const { createRequire } = await import('node:module');
    const addon = createRequire(import.meta.url)('../../native/build/Release/tunnel_native.node') as { espReplayWindowSize: number };
    expect(addon.espReplayWindowSize).toBe(ESP_REPLAY_WINDOW);
  });

  it('in order: every number fresh once, then each a duplicate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffff_ffff - 3000 }), fc.integer({ min: 1, max: 3000 }), (start, count) => {
        const run = Array.from({ length: count }, (_, i) => start + i);
        expect(agree(run).every((v) => v === 'fresh')).toBe(true);
        const last = run.slice(-ESP_REPLAY_WINDOW);
        expect(agree([...run, ...last]).slice(run.length).every((v) => v === 'duplicate')).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('reordered inside the window: any order of a window\'s worth is taken whole, exactly once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffff_0000 }),
        fc.integer({ min: 1, max: ESP_REPLAY_WINDOW }).chain((n) => fc.shuffledSubarray(Array.from({ length: n }, (_, i) => i), { minLength: n, maxLength: n })),
        (start, order) => {
          const run = order.map((i) => start + i);
          const verdicts = agree([...run, ...run]);
          expect(verdicts.slice(0, run.length).every((v) => v === 'fresh')).toBe(true);
          expect(verdicts.slice(run.length).every((v) => v === 'duplicate')).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('beyond the window: below highest - window + 1 is stale, seen or not; just inside is fresh', () => {
    fc.assert(
      fc.property(fc.integer({ min: ESP_REPLAY_WINDOW + 1, max: 0xffff_ffff }), fc.integer({ min: ESP_REPLAY_WINDOW, max: 100_000 }), (highest, back) => {
        const old = Math.max(1, highest - back);
        const inside = highest - ESP_REPLAY_WINDOW + 1;
        const verdicts = agree([old, highest, old, inside, inside]);
        expect(verdicts).toEqual(['fresh', 'fresh', 'stale', inside === old ? 'duplicate' : 'fresh', 'duplicate']);
      }),
      { numRuns: 500 },
    );
  });

  it('mixed traffic (reordering, duplicates, jumps, the top of the 32-bit space): the same verdict as the model at every step', () => {
    fc.assert(fc.property(traffic, (sequences) => void agree(sequences)), { numRuns: 2000 });
  });

  it('zero is never fresh, and 2^32 - 1 is the last number', () => {
    expect(agree([0, 1, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff - ESP_REPLAY_WINDOW + 1, 1, 0])).toEqual(['stale', 'fresh', 'fresh', 'duplicate', 'fresh', 'stale', 'stale']);
  });
});

describe('an inbound SA runs that window on authentic packets only', () => {
  it('opens sealed packets in a shuffled order exactly as the model says, and a forged copy never moves the window', () => {
    const key = Buffer.alloc(20, 7);
    const sender = createEspSa({ spi: 0x1000, aead: 'aes-gcm', key });
    const inbound = createEspInbound();
    const receiver = createEspSa({ spi: 0x1000, aead: 'aes-gcm', key });
    inbound.add(receiver);
    const total = 3 * ESP_REPLAY_WINDOW;
    const sealed: Buffer[] = [];
    const batch = createPacketBatch(64, 256);
    const results = createEspSlotResults(64);
    for (let base = 0; base < total; base += 64) {
      for (let i = 0; i < 64; i++) {
        batch.offsets[i] = 32;
        batch.lengths[i] = 40;
        batch.data.fill(i, i * 256 + 32, i * 256 + 72);
      }
      results.nextHeaders.fill(47);
      expect(sender.seal(batch, 64, results)).toBe(64);
      for (let i = 0; i < 64; i++) {
        const start = i * 256 + batch.offsets[i]!;
        sealed.push(Buffer.from(batch.data.subarray(start, start + batch.lengths[i]!)));
      }
    }
    fc.assert(
      fc.property(fc.array(fc.nat(total - 1), { minLength: 1, maxLength: 300 }), fc.nat(299), (picks, forgedAt) => {
        inbound.remove(0x1000);
        const fresh = createEspSa({ spi: 0x1000, aead: 'aes-gcm', key });
        inbound.add(fresh);
        const model = new ModelWindow();
        picks.forEach((pick, step) => {
          const packet = sealed[pick]!;
          const sequence = packet.readUInt32BE(4);
          if (step === forgedAt) {
            // The same header with a flipped ciphertext bit: refused, and the window does not move.
            const forged = Buffer.from(packet);
            forged[20]! ^= 1;
            forged.copy(batch.data, 0);
            batch.offsets[0] = 0;
            batch.lengths[0] = forged.length;
            inbound.open(batch, 1, results);
            expect(espOutcomeName(results.outcomes[0]!)).toBe('auth-failed');
            expect(fresh.counters().highestReceived).toBe(model.highest);
          }
          packet.copy(batch.data, 0);
          batch.offsets[0] = 0;
          batch.lengths[0] = packet.length;
          inbound.open(batch, 1, results);
          const expected = model.check(sequence);
          expect(espOutcomeName(results.outcomes[0]!)).toBe(expected === 'fresh' ? 'ok' : 'replayed');
          if (expected === 'fresh') model.accept(sequence);
        });
        const counters = fresh.counters();
        expect(counters.highestReceived).toBe(model.highest);
        expect(counters.openedPackets).toBe(model.seen.size);
        expect(counters.openedPackets + counters.replayed).toBe(picks.length);
      }),
      { numRuns: 100 },
    );
  });
});
