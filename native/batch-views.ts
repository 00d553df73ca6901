import { NativeError } from './native-error.js';
import type { NativeAddon, NativeBatchView } from './addon-binding.js';
import type { PacketBatchMemory } from './types.js';

/**
 * The addon's view of each PacketBatchMemory, made on first use and kept as long as the batch
 * lives, so steady-state batched calls pass one object and allocate nothing.
 */
export class BatchViews {
  readonly #bind: NativeAddon['bindBatch'];
  readonly #views = new WeakMap<PacketBatchMemory, NativeBatchView>();

  constructor(bind: NativeAddon['bindBatch']) {
    this.#bind = bind;
  }

  /** The native view of `batch`; throws ERR_INVALID_ARGUMENT when its arrays do not fit its shape. */
  viewOf(batch: PacketBatchMemory): NativeBatchView {
    const known = this.#views.get(batch);
    if (known !== undefined) return known;
    const { data, offsets, lengths, addrs, ports, addrs6, capacity, slotSize } = batch;
    if (
      !(data instanceof Uint8Array) ||
      !(offsets instanceof Uint32Array) ||
      !(lengths instanceof Uint32Array) ||
      !(addrs instanceof Uint32Array) ||
      !(ports instanceof Uint16Array) ||
      !(addrs6 instanceof Uint8Array) ||
      addrs6.length < capacity * 16 ||
      !Number.isInteger(capacity) ||
      !Number.isInteger(slotSize) ||
      data.length < capacity * slotSize ||
      Math.min(offsets.length, lengths.length, addrs.length, ports.length) < capacity
    ) {
      throw new NativeError('ERR_INVALID_ARGUMENT', 'packet batch arrays do not match its capacity and slot size (use createPacketBatch)');
    }
    let view: NativeBatchView;
    try {
      view = this.#bind(data, offsets, lengths, addrs, ports, capacity, slotSize, addrs6);
    } catch (err) {
      throw new NativeError('ERR_INVALID_ARGUMENT', `packet batch rejected: ${(err as Error).message}`, { cause: err });
    }
    this.#views.set(batch, view);
    return view;
  }
}
