import type { PacketBatchMemory } from '../../native/index.js';

/** Slot `i` of a batch as readBatch left it: the bytes from its offset, its length long. */
export function slotBytes(batch: PacketBatchMemory, i: number): Buffer {
  const at = i * batch.slotSize + (batch.offsets[i] ?? 0);
  return batch.data.subarray(at, at + (batch.lengths[i] ?? 0));
}

/** Copies `bytes` into slot `i` at `offset` (the slot's start by default) and sets its offset and length. */
export function fillSlot(batch: PacketBatchMemory, i: number, bytes: Uint8Array, offset = 0): void {
  batch.data.set(bytes, i * batch.slotSize + offset);
  batch.offsets[i] = offset;
  batch.lengths[i] = bytes.length;
}
