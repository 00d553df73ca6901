import { NativeError } from './native-error.js';
import type { PacketBatchMemory } from './types.js';

/** recvmmsg/sendmmsg take at most UIO_MAXIOV (1024) messages per call. */
export const MAX_BATCH_CAPACITY = 1024;
/** Room for the largest IPv4 datagram (65535) plus headroom. */
export const MAX_SLOT_SIZE = 131072;
/** Smaller slots could not hold a minimal IPv4 header plus an outer header. */
export const MIN_SLOT_SIZE = 64;

/**
 * Allocates the memory for a batch of `capacity` packets, once. Everything lives in one
 * ArrayBuffer (always off the V8 heap, so the addon's pointers into it never move); the addon
 * checks that single buffer for detachment on each call.
 */
export function createPacketBatch(capacity: number, slotSize = 2048): PacketBatchMemory {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_BATCH_CAPACITY) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `batch capacity must be an integer from 1 to ${MAX_BATCH_CAPACITY}, got ${capacity}`);
  }
  if (!Number.isInteger(slotSize) || slotSize < MIN_SLOT_SIZE || slotSize > MAX_SLOT_SIZE) {
    throw new NativeError(
      'ERR_INVALID_ARGUMENT',
      `batch slot size must be an integer from ${MIN_SLOT_SIZE} to ${MAX_SLOT_SIZE}, got ${slotSize}`,
    );
  }
  const dataBytes = Math.ceil((capacity * slotSize) / 4) * 4;
  const metaBytes = capacity * 4 * 3 + capacity * 2;
  const addrs6Offset = dataBytes + Math.ceil(metaBytes / 4) * 4;
  const memory = new ArrayBuffer(addrs6Offset + capacity * 16);
  return {
    capacity,
    slotSize,
    data: Buffer.from(memory, 0, capacity * slotSize),
    offsets: new Uint32Array(memory, dataBytes, capacity),
    lengths: new Uint32Array(memory, dataBytes + capacity * 4, capacity),
    addrs: new Uint32Array(memory, dataBytes + capacity * 8, capacity),
    ports: new Uint16Array(memory, dataBytes + capacity * 12, capacity),
    addrs6: new Uint8Array(memory, addrs6Offset, capacity * 16),
  };
}
