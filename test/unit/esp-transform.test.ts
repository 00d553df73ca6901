import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createEspInbound,
  createEspSa,
  createEspSlotResults,
  createPacketBatch,
  ESP_HEADROOM,
  EspError,
  espOutcomeName,
  type EspAead,
  type EspSaConfig,
  type PacketBatchMemory,
} from '../../native/index.js';
import { decodeEspHeader, espPacketLength } from '../../shared/wire/index.js';
import { refusalOf } from '../helpers/error-code.js';

// The addon's ESP transform on batches: what it does with good packets, and that every bad one
// gets its own outcome, moves only its own counter and leaves the SA as it was.

const SLOT = 2048;
const HEAD = 64;
const KEYS: readonly { aead: EspAead; bytes: number }[] = [
  { aead: 'aes-gcm', bytes: 20 },
  { aead: 'aes-gcm', bytes: 28 },
  { aead: 'aes-gcm', bytes: 36 },
  { aead: 'chacha20-poly1305', bytes: 36 },
];

function keyOf(bytes: number, fill = 0x5a): Buffer {
  return Buffer.alloc(bytes, fill);
}

function pair(config: EspSaConfig) {
  const sender = createEspSa(config);
  const receiver = createEspSa({ ...config, firstSequence: undefined, ivMask: undefined });
  const inbound = createEspInbound();
  inbound.add(receiver);
  return { sender, receiver, inbound };
}

function load(batch: PacketBatchMemory, packets: readonly Uint8Array[], offset = HEAD): void {
  packets.forEach((packet, i) => {
    batch.data.set(packet, i * batch.slotSize + offset);
    batch.offsets[i] = offset;
    batch.lengths[i] = packet.length;
  });
}

function slot(batch: PacketBatchMemory, i: number): Buffer {
  const start = i * batch.slotSize + batch.offsets[i]!;
  return Buffer.from(batch.data.subarray(start, start + batch.lengths[i]!));
}

function outcomes(results: { outcomes: Uint8Array }, count: number): string[] {
  return Array.from(results.outcomes.subarray(0, count), (code) => espOutcomeName(code));
}

describe.each(KEYS)('$aead with a $bytes-byte key', ({ aead, bytes }) => {
  it('seals any batch of payloads into ESP packets that open back to the same payloads and next headers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 1500 }), fc.constantFrom(47, 4, 41)), { minLength: 1, maxLength: 32 }),
        (items) => {
          const { sender, inbound } = pair({ spi: 0x0c0ffee, aead, key: keyOf(bytes) });
          const batch = createPacketBatch(32, SLOT);
          const results = createEspSlotResults(32);
          load(batch, items.map(([payload]) => payload));
          items.forEach(([, nextHeader], i) => (results.nextHeaders[i] = nextHeader));
          expect(sender.seal(batch, items.length, results)).toBe(items.length);
          const masks = new Set<bigint>();
          items.forEach(([payload], i) => {
            const packet = slot(batch, i);
            expect(packet.length).toBe(espPacketLength(payload.length));
            const header = decodeEspHeader(packet);
            expect(header).toMatchObject({ ok: true, spi: 0x0c0ffee, sequence: i + 1 });
            // seqiv: the IV is the 64-bit sequence number under one mask per SA.
            masks.add(packet.readBigUInt64BE(8) ^ BigInt(i + 1));
          });
          expect(masks.size).toBe(1);
          results.nextHeaders.fill(0);
          expect(inbound.open(batch, items.length, results)).toBe(items.length);
          items.forEach(([payload, nextHeader], i) => {
            expect(slot(batch, i).equals(Buffer.from(payload))).toBe(true);
            expect(results.nextHeaders[i]).toBe(nextHeader);
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses any single changed byte: a changed SPI finds no SA, anything else fails the ICV', () => {
    const { sender, receiver, inbound } = pair({ spi: 0x0c0ffee, aead, key: keyOf(bytes) });
    const batch = createPacketBatch(1, SLOT);
    const results = createEspSlotResults(1);
    load(batch, [Buffer.from('45000054000040004001b7d8c0a80001c0a80002', 'hex')]);
    results.nextHeaders[0] = 4;
    sender.seal(batch, 1, results);
    const genuine = slot(batch, 0);
    fc.assert(
      fc.property(fc.nat(genuine.length - 1), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const tampered = Buffer.from(genuine);
        tampered[at]! ^= flip;
        load(batch, [tampered], 0);
        inbound.open(batch, 1, results);
        expect(espOutcomeName(results.outcomes[0]!)).toBe(at < 4 ? 'unknown-spi' : 'auth-failed');
      }),
      { numRuns: 300 },
    );
    expect(receiver.counters()).toMatchObject({ openedPackets: 0, highestReceived: 0, replayed: 0 });
    // The genuine packet still opens afterwards: nothing above moved the window.
    load(batch, [genuine], 0);
    expect(inbound.open(batch, 1, results)).toBe(1);
  });
});

describe('bad packets and slots', () => {
  it('gives each slot of a mixed batch its own outcome and still opens the good ones', () => {
    const key = keyOf(20);
    const { sender, receiver, inbound } = pair({ spi: 0x2000, aead: 'aes-gcm', key });
    const other = createEspSa({ spi: 0x2000, aead: 'aes-gcm', key: keyOf(20, 0x11) });
    const batch = createPacketBatch(8, SLOT);
    const results = createEspSlotResults(8);
    load(batch, [Buffer.from('aa'.repeat(100), 'hex'), Buffer.from('bb'.repeat(100), 'hex')]);
    results.nextHeaders.fill(47);
    sender.seal(batch, 2, results);
    const [first, second] = [slot(batch, 0), slot(batch, 1)];
    load(batch, [Buffer.from('cc'.repeat(100), 'hex')]);
    other.seal(batch, 1, results);
    const wrongKey = slot(batch, 0);
    const unknownSpi = Buffer.from(first);
    unknownSpi.writeUInt32BE(0x2001, 0);
    load(batch, [first, first, Buffer.alloc(7), first.subarray(0, 33), unknownSpi, wrongKey, second], 0);
    expect(inbound.open(batch, 7, results)).toBe(2);
    expect(outcomes(results, 7)).toEqual(['ok', 'replayed', 'malformed', 'malformed', 'unknown-spi', 'auth-failed', 'ok']);
    expect(slot(batch, 6).equals(Buffer.from('bb'.repeat(100), 'hex'))).toBe(true);
    expect(receiver.counters()).toMatchObject({ openedPackets: 2, replayed: 1, malformed: 1, authFailed: 1, highestReceived: 2 });
    expect(inbound.counters()).toEqual({ unknownSpi: 1, truncated: 1, sas: 1 });
  });

  it('refuses to seal a slot without room before or after the payload, leaving it and the sequence number as they were', () => {
    const sa = createEspSa({ spi: 0x3000, aead: 'chacha20-poly1305', key: keyOf(36) });
    const batch = createPacketBatch(3, 256);
    const results = createEspSlotResults(3);
    const payload = Buffer.from('01'.repeat(40), 'hex');
    load(batch, [payload]);
    batch.offsets[0] = ESP_HEADROOM - 1;
    batch.data.set(payload, ESP_HEADROOM - 1);
    batch.data.set(payload, 256 + (256 - 50));
    batch.offsets[1] = 256 - 50;
    batch.lengths[1] = 40;
    batch.data.set(payload, 512 + HEAD);
    batch.offsets[2] = HEAD;
    batch.lengths[2] = 40;
    results.nextHeaders.fill(47);
    const before = Buffer.from(batch.data);
    expect(sa.seal(batch, 2, results)).toBe(0);
    expect(outcomes(results, 2)).toEqual(['no-room', 'no-room']);
    expect(Buffer.from(batch.data).equals(before)).toBe(true);
    expect([batch.offsets[0], batch.lengths[0], batch.offsets[1], batch.lengths[1]]).toEqual([ESP_HEADROOM - 1, 40, 256 - 50, 40]);
    expect(sa.counters()).toMatchObject({ sealNoRoom: 2, sealedPackets: 0, lastSequence: 0 });
    expect(sa.seal(batch, 3, results)).toBe(1);
    expect(decodeEspHeader(slot(batch, 2))).toMatchObject({ sequence: 1 });
  });

  it('says when the rekey point is reached, and keeps sealing until the last sequence number', () => {
    const sa = createEspSa({ spi: 0x4000, aead: 'aes-gcm', key: keyOf(36), rekeySequence: 3 });
    const batch = createPacketBatch(1, 256);
    const results = createEspSlotResults(1);
    const due: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      load(batch, [Buffer.alloc(10)]);
      expect(sa.seal(batch, 1, results)).toBe(1);
      due.push(sa.counters().rekeyDue);
    }
    expect(due).toEqual([false, true, true]);
  });
});

describe('arguments and secrets', () => {
  const key = Buffer.from('00112233445566778899aabbccddeeff0badc0de', 'hex');

  it.each([
    ['an SPI below 256', { spi: 255, aead: 'aes-gcm', key }, 'ERR_INVALID_ARGUMENT'],
    ['an SPI past 32 bits', { spi: 2 ** 32, aead: 'aes-gcm', key }, 'ERR_INVALID_ARGUMENT'],
    ['an unknown AEAD', { spi: 0x1000, aead: 'aes-cbc', key }, 'ERR_INVALID_ARGUMENT'],
    ['a 16-byte AES key without its salt', { spi: 0x1000, aead: 'aes-gcm', key: key.subarray(0, 16) }, 'ERR_INVALID_KEY'],
    ['a 20-byte key for ChaCha20-Poly1305', { spi: 0x1000, aead: 'chacha20-poly1305', key }, 'ERR_INVALID_KEY'],
    ['a key given as text', { spi: 0x1000, aead: 'aes-gcm', key: key.toString('hex') }, 'ERR_INVALID_KEY'],
    ['first sequence 0', { spi: 0x1000, aead: 'aes-gcm', key, firstSequence: 0 }, 'ERR_INVALID_ARGUMENT'],
    ['a 4-byte IV mask', { spi: 0x1000, aead: 'aes-gcm', key, ivMask: Buffer.alloc(4) }, 'ERR_INVALID_ARGUMENT'],
  ])('refuses %s with one coded line that holds no key byte', (_label, config, code) => {
    const err = refusalOf(() => createEspSa(config as EspSaConfig), EspError);
    expect(err.code).toBe(code);
    expect(err.message).not.toContain('\n');
    for (const text of [err.message, String(err.stack)]) {
      expect(text).not.toContain(key.toString('hex'));
      expect(text).not.toContain(key.subarray(0, 16).toString('hex'));
    }
  });

  it('never shows the key: not in JSON, inspection or counters', () => {
    const sa = createEspSa({ spi: 0x1234, aead: 'aes-gcm', key });
    const shown = [JSON.stringify(sa), inspect(sa, { depth: 5, showHidden: true }), JSON.stringify(sa.counters())];
    expect(JSON.parse(shown[0]!)).toEqual({ spi: 0x1234, aead: 'aes-gcm' });
    for (const text of shown) {
      expect(text).not.toContain(key.toString('hex'));
      expect(text).not.toContain(key.toString('base64'));
      expect(text).not.toMatch(/0,\s*17,\s*34,\s*51/);
    }
  });

  it('refuses calls on closed objects and bad batch arguments, and keeps working after', () => {
    const sa = createEspSa({ spi: 0x1000, aead: 'aes-gcm', key });
    const inbound = createEspInbound();
    inbound.add(sa);
    const batch = createPacketBatch(2, 256);
    const results = createEspSlotResults(2);
    expect(refusalOf(() => sa.seal(batch, 3, results), EspError).code).toBe('ERR_INVALID_ARGUMENT');
    expect(refusalOf(() => sa.seal(batch, 2, createEspSlotResults(1)), EspError).code).toBe('ERR_INVALID_ARGUMENT');
    expect(refusalOf(() => inbound.remove(12), EspError).code).toBe('ERR_INVALID_ARGUMENT');
    sa.close();
    expect(refusalOf(() => sa.seal(batch, 1, results), EspError).code).toBe('ERR_CLOSED');
    expect(refusalOf(() => inbound.add(sa), EspError).code).toBe('ERR_CLOSED');
    // The table still holds the SA the handle let go of.
    expect(inbound.counters().sas).toBe(1);
    expect(inbound.remove(0x1000)).toBe(true);
    expect(inbound.remove(0x1000)).toBe(false);
    inbound.close();
    expect(refusalOf(() => inbound.open(batch, 1, results), EspError).code).toBe('ERR_CLOSED');
  });
});
