/**
 * The contract between the native addon (native/index.ts) and the datapath engine.
 * The addon only does system calls; the engine owns protocol, queues and backpressure.
 */

/**
 * Preallocated memory for a batch of packets: `capacity` slots of `slotSize` bytes in one Buffer.
 * Slot i's packet lives at data[i * slotSize + offsets[i]], `lengths[i]` bytes long. For sockets,
 * addrs[i] is the IPv4 peer address as an unsigned 32-bit number (a.b.c.d = a<<24|b<<16|c<<8|d)
 * and ports[i] the UDP peer port: filled on read (source), used on write (destination).
 */
export interface PacketBatchMemory {
  readonly capacity: number;
  readonly slotSize: number;
  readonly data: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly addrs: Uint32Array;
  readonly ports: Uint16Array;
}

/** Something packets can be read from and written to, many per call, without blocking. */
export interface PacketEndpoint {
  /**
   * Reads up to batch.capacity packets; each lands in its slot at offset `headroom` (room for an
   * outer header to be prepended without a copy). Returns how many were read; 0 when none wait.
   */
  readBatch(batch: PacketBatchMemory, headroom?: number): number;
  /** Writes slots [0, count). Returns how many were accepted (fewer when the kernel is full). */
  writeBatch(batch: PacketBatchMemory, count: number): number;
  /** Calls `onReadable` whenever the descriptor becomes readable (uv_poll). Replaces any earlier callback. */
  onReadable(onReadable: () => void): void;
  /** Stops readiness callbacks and closes the descriptor. Idempotent; later I/O throws ERR_CLOSED. */
  close(): void;
  readonly closed: boolean;
}
