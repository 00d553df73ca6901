import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { guardWindow } from '../fixtures/wire/bounds-guard.js';
import { mutatedPacketArbitrary, randomPacketArbitrary } from '../fixtures/wire/fuzz-arbitraries.js';
import { FUZZ_TARGETS } from '../fixtures/wire/fuzz-targets.js';

const RUNS = 20_000;
const TIMEOUT_MS = 180_000;

/** The same packet between two different surroundings, at the same offset. */
const twoSurroundings = (packets: fc.Arbitrary<Buffer>) =>
  fc.tuple(
    packets,
    fc.integer({ min: 0, max: 12 }),
    fc.uint8Array({ minLength: 24, maxLength: 24 }),
    fc.uint8Array({ minLength: 24, maxLength: 24 }),
  );

function surround(packet: Buffer, offset: number, fill: Uint8Array | number): Buffer {
  const buffer = Buffer.alloc(offset + packet.length + 12, fill);
  packet.copy(buffer, offset);
  return buffer;
}

describe.each(FUZZ_TARGETS)('window confinement of $name', (target) => {
  it(
    `${RUNS} packets: the result ignores the bytes around the window, which are never touched`,
    () => {
      const packets = fc.oneof(mutatedPacketArbitrary(target.seeds, target.repair), randomPacketArbitrary(64));
      fc.assert(
        fc.property(twoSurroundings(packets), ([packet, offset, fillA, fillB]) => {
          // Sentinel surroundings that differ in every byte, plus a random pair.
          const guarded = guardWindow(surround(packet, offset, fillA), offset, packet.length);
          const reference = JSON.stringify(target.decode(surround(packet, offset, 0x00), offset, packet.length));
          const others = [
            target.decode(surround(packet, offset, 0xff), offset, packet.length),
            target.decode(surround(packet, offset, fillB), offset, packet.length),
            target.decode(guarded.view, offset, packet.length),
          ];
          // Plain checks, not expect(): this runs RUNS times per decoder.
          for (const other of others) {
            if (JSON.stringify(other) !== reference) throw new Error(`result depends on the surroundings: ${JSON.stringify(other)} vs ${reference}`);
          }
          if (guarded.violations.length > 0) throw new Error(`touched bytes outside the window: ${guarded.violations.join(', ')}`);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );
});

describe('the bounds guard itself', () => {
  it('catches an out-of-window read and write', () => {
    const { view, violations } = guardWindow(Buffer.alloc(8), 2, 4);
    void view[1];
    void view[5];
    view[6] = 1;
    expect(violations).toEqual(['read 1', 'write 6']);
  });
});
