import { describe, expect, it } from 'vitest';
import {
  createEspInbound,
  createEspSa,
  createEspSlotResults,
  createPacketBatch,
  EspError,
  espOutcomeName,
  type EspAead,
  type PacketBatchMemory,
} from '../../native/index.js';
import { RFC4106_VECTORS, RFC7634_VECTOR, type EspTestVector } from '../fixtures/esp-test-vectors.js';
import { errorCodeOf } from '../helpers/error-code.js';

// The addon's ESP against the published vectors: sealing a vector's payload gives its packet byte
// for byte, and opening its packet gives back its payload and next header.

const HEADROOM = 64;

function aeadOf(vector: EspTestVector): EspAead {
  return vector === RFC7634_VECTOR ? 'chacha20-poly1305' : 'aes-gcm';
}

/** The IV mask that makes the SA's seqiv-style IV (sequence XOR mask) the vector's IV. */
function ivMaskFor(vector: EspTestVector): Buffer {
  const mask = Buffer.from(vector.iv, 'hex');
  mask.writeUInt32BE((mask.readUInt32BE(4) ^ vector.sequence) >>> 0, 4);
  return mask;
}

/** An SA with the vector's key and SPI; one that seals starts at the vector's sequence number. */
function saFor(vector: EspTestVector, sealing = true) {
  return createEspSa({
    spi: vector.spi,
    aead: aeadOf(vector),
    key: Buffer.from(vector.key, 'hex'),
    ...(sealing ? { firstSequence: vector.sequence, ivMask: ivMaskFor(vector) } : {}),
  });
}

function put(batch: PacketBatchMemory, slot: number, offset: number, bytes: Buffer): void {
  bytes.copy(batch.data, slot * batch.slotSize + offset);
  batch.offsets[slot] = offset;
  batch.lengths[slot] = bytes.length;
}

function take(batch: PacketBatchMemory, slot: number): Buffer {
  const start = slot * batch.slotSize + batch.offsets[slot]!;
  return Buffer.from(batch.data.subarray(start, start + batch.lengths[slot]!));
}

const usable = [...RFC4106_VECTORS.filter((v) => !v.esn && v.spi >= 256), RFC7634_VECTOR];

describe.each(usable)('$name', (vector) => {
  it('seals its payload into exactly its packet', () => {
    const sa = saFor(vector);
    const batch = createPacketBatch(1, 512);
    const results = createEspSlotResults(1);
    put(batch, 0, HEADROOM, Buffer.from(vector.payload, 'hex'));
    results.nextHeaders[0] = vector.nextHeader;
    expect(sa.seal(batch, 1, results)).toBe(1);
    expect(espOutcomeName(results.outcomes[0]!)).toBe('ok');
    expect(batch.offsets[0]).toBe(HEADROOM - 16);
    expect(take(batch, 0).toString('hex')).toBe(vector.packet);
    expect(sa.counters()).toMatchObject({ sealedPackets: 1, sealedBytes: vector.payload.length / 2, lastSequence: vector.sequence });
  });

  it('opens its packet into exactly its payload and next header', () => {
    const inbound = createEspInbound();
    inbound.add(saFor(vector, false));
    const batch = createPacketBatch(1, 512);
    const results = createEspSlotResults(1);
    put(batch, 0, 20, Buffer.from(vector.packet, 'hex'));
    expect(inbound.open(batch, 1, results)).toBe(1);
    expect(espOutcomeName(results.outcomes[0]!)).toBe('ok');
    expect(results.nextHeaders[0]).toBe(vector.nextHeader);
    expect(batch.offsets[0]).toBe(36);
    expect(take(batch, 0).toString('hex')).toBe(vector.payload);
  });
});

describe('vectors the transform does not take as they are', () => {
  it.each(RFC4106_VECTORS.filter((v) => v.esn))('$name authenticates an ESN high half, which a non-ESN SA (as ours and Linux without `flag esn`) refuses', (vector) => {
    const sa = saFor(vector, false);
    const inbound = createEspInbound();
    inbound.add(sa);
    const batch = createPacketBatch(1, 512);
    const results = createEspSlotResults(1);
    put(batch, 0, 0, Buffer.from(vector.packet, 'hex'));
    expect(inbound.open(batch, 1, results)).toBe(0);
    expect(espOutcomeName(results.outcomes[0]!)).toBe('auth-failed');
    expect(sa.counters()).toMatchObject({ authFailed: 1, openedPackets: 0, highestReceived: 0 });
  });

  it('test case 4 uses SPI 0, which no SA may have (RFC 3948 non-ESP marker): refused, and its packet finds no SA', () => {
    const vector = RFC4106_VECTORS.find((v) => v.spi === 0)!;
    expect(errorCodeOf(() => saFor(vector, false), EspError)).toBe('ERR_INVALID_ARGUMENT');
    const inbound = createEspInbound();
    const batch = createPacketBatch(1, 512);
    const results = createEspSlotResults(1);
    put(batch, 0, 0, Buffer.from(vector.packet, 'hex'));
    expect(inbound.open(batch, 1, results)).toBe(0);
    expect(espOutcomeName(results.outcomes[0]!)).toBe('unknown-spi');
    expect(inbound.counters()).toEqual({ unknownSpi: 1, truncated: 0, sas: 0 });
  });

  it('test case 12 sends sequence number 2^32 - 1, the last one: the next seal is refused, never wrapped', () => {
    const vector = RFC4106_VECTORS.find((v) => v.sequence === 0xffff_ffff && !v.esn)!;
    const sa = saFor(vector);
    const batch = createPacketBatch(2, 512);
    const results = createEspSlotResults(2);
    put(batch, 0, HEADROOM, Buffer.from(vector.payload, 'hex'));
    put(batch, 1, HEADROOM, Buffer.from('45000014', 'hex'));
    results.nextHeaders.fill(vector.nextHeader);
    expect(sa.seal(batch, 2, results)).toBe(1);
    expect(take(batch, 0).toString('hex')).toBe(vector.packet);
    expect(espOutcomeName(results.outcomes[1]!)).toBe('sequence-exhausted');
    expect(batch.offsets[1]).toBe(HEADROOM);
    expect(take(batch, 1).toString('hex')).toBe('45000014');
    expect(sa.counters()).toMatchObject({ sealedPackets: 1, sealExhausted: 1, lastSequence: 0xffff_ffff, rekeyDue: true });
  });
});
