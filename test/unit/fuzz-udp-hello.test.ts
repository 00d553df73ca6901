import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DECODE_ERROR_REASONS } from '../../shared/wire/decode-error.js';
import {
  decodeUdpHello, decodeUdpHelloFrame, sealUdpHelloFrame, UDP_HELLO_LENGTH, verifyUdpHelloMac, type UdpHelloFields,
} from '../../shared/wire/udp-hello.js';
import { guardWindow } from '../fixtures/wire/bounds-guard.js';
import { framedArbitrary, mutatedPacketArbitrary, randomPacketArbitrary } from '../fixtures/wire/fuzz-arbitraries.js';

// The issue asks for at least 100,000 random and 100,000 mutated buffers per decoder.
const RUNS = 100_000;
const TIMEOUT_MS = 180_000;
const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const KNOWN_REASONS = new Set<string>(DECODE_ERROR_REASONS);

function sealed(encap: 'fou' | 'gue', greKey: number | null, fields: UdpHelloFields): Buffer {
  const buf = Buffer.alloc(64);
  return buf.subarray(0, sealUdpHelloFrame(buf, 0, { encap, greKey }, fields, KEY));
}

const FRAME_SEEDS = [
  sealed('fou', null, { kind: 'hello', bindingId: 1, counter: 1n, view: { address: 0xc0a84d02, port: 4754 } }),
  sealed('fou', 0x1234, { kind: 'ack', bindingId: 0xffff_ffff, counter: (1n << 64n) - 1n, view: { address: 0xc0000214, port: 40001 } }),
  sealed('gue', null, { kind: 'hello', bindingId: 42, counter: 1_700_000_000_000_000n, view: null }),
].map((b) => b.toString('hex'));
const BODY_SEEDS = FRAME_SEEDS.map((hex) => {
  const frame = Buffer.from(hex, 'hex');
  const located = decodeUdpHelloFrame(frame, 0, frame.length);
  if (!located.ok) throw new Error('seed does not decode');
  return frame.subarray(located.payloadOffset).toString('hex');
});

/** Random bytes behind the hello magic, so random input reaches past the first check. */
const magicPrefixed = randomPacketArbitrary(60).map((b) => Buffer.concat([Buffer.from('THLO'), b]));

/** Throws unless `result` is a known DecodeError or ok:true with its offsets inside the window. */
function assertTyped(result: { ok: boolean } & Record<string, unknown>, offset: number, length: number): void {
  if (result.ok === false) {
    if (typeof result.reason !== 'string' || !KNOWN_REASONS.has(result.reason)) throw new Error(`unknown reason ${String(result.reason)}`);
    return;
  }
  if (result.ok !== true) throw new Error('neither ok:true nor ok:false');
  const end = offset + length;
  if (result.macOffset !== undefined) {
    const mac = result.macOffset as number;
    if (mac < offset || mac + 16 > end) throw new Error(`macOffset ${mac} outside [${offset}, ${end}]`);
    if (typeof result.counter !== 'bigint' || result.counter < 0n || result.counter >= 1n << 64n) throw new Error('counter outside 64 bits');
  }
  if (result.payloadOffset !== undefined) {
    const start = result.payloadOffset as number;
    const size = result.payloadLength as number;
    if (start < offset || size < 0 || start + size > end) throw new Error(`payload [${start}, +${size}] outside [${offset}, ${end}]`);
  }
}

const TARGETS = [
  { name: 'decodeUdpHello', decode: decodeUdpHello, seeds: BODY_SEEDS },
  { name: 'decodeUdpHelloFrame', decode: decodeUdpHelloFrame, seeds: FRAME_SEEDS },
] as const;

describe.each(TARGETS)('fuzz $name', (target) => {
  it(`${RUNS} random buffers (half behind the magic): typed, in bounds, never a throw`, () => {
    fc.assert(
      fc.property(framedArbitrary(fc.oneof(randomPacketArbitrary(), magicPrefixed)), ({ buffer, offset, length }) => {
        assertTyped(target.decode(buffer, offset, length) as never, offset, length);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT_MS);

  it(`${RUNS} mutated valid hellos: typed, in bounds, never a throw, several outcomes`, () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(framedArbitrary(mutatedPacketArbitrary(target.seeds)), ({ buffer, offset, length }) => {
        const result = target.decode(buffer, offset, length);
        assertTyped(result as never, offset, length);
        const key = result.ok ? 'ok' : result.reason;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }),
      { numRuns: RUNS },
    );
    expect(outcomes.get('ok') ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(RUNS / 100);
    expect([...outcomes.keys()].filter((k) => k !== 'ok').length, JSON.stringify([...outcomes])).toBeGreaterThanOrEqual(2);
  }, TIMEOUT_MS);

  it('20000 packets: no byte outside the window is touched', () => {
    const packets = fc.oneof(mutatedPacketArbitrary(target.seeds), magicPrefixed);
    fc.assert(
      fc.property(packets, fc.integer({ min: 0, max: 12 }), (packet, offset) => {
        const buffer = Buffer.alloc(offset + packet.length + 12, 0xa5);
        packet.copy(buffer, offset);
        const guarded = guardWindow(buffer, offset, packet.length);
        target.decode(guarded.view, offset, packet.length);
        if (guarded.violations.length > 0) throw new Error(`touched ${guarded.violations.join(', ')}`);
      }),
      { numRuns: 20_000 },
    );
  }, TIMEOUT_MS);
});

describe('fuzz the MAC', () => {
  it(`${RUNS} mutated sealed hellos: any change to the 44 bytes fails verification`, () => {
    let changed = 0;
    fc.assert(
      fc.property(fc.constantFrom(...BODY_SEEDS), fc.array(fc.tuple(fc.nat(UDP_HELLO_LENGTH - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (hex, edits) => {
        const original = Buffer.from(hex, 'hex');
        const body = Buffer.from(original);
        for (const [at, value] of edits) body[at] = value;
        const verified = verifyUdpHelloMac(body, 0, KEY);
        if (body.equals(original)) {
          if (!verified) throw new Error('an unchanged hello failed verification');
          return;
        }
        changed++;
        if (verified) throw new Error(`a changed hello verified: ${body.toString('hex')}`);
      }),
      { numRuns: RUNS },
    );
    expect(changed).toBeGreaterThan(RUNS * 0.9);
  }, TIMEOUT_MS);

  it('random 16-byte MACs on valid bodies never verify (a forger guessing)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...BODY_SEEDS), fc.uint8Array({ minLength: 16, maxLength: 16 }), (hex, mac) => {
        const body = Buffer.from(hex, 'hex');
        Buffer.from(mac).copy(body, 28);
        if (verifyUdpHelloMac(body, 0, KEY) && !body.equals(Buffer.from(hex, 'hex'))) throw new Error('a guessed MAC verified');
      }),
      { numRuns: 20_000 },
    );
  }, TIMEOUT_MS);
});
