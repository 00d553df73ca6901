import { NativeError } from './native-error.js';
import type { NativeEndpointHandle } from './addon-binding.js';
import type { BatchViews } from './batch-views.js';
import { fromNativeAddress } from './socket-address.js';
import { toNativeError } from './system-error.js';
import type { PacketBatchMemory, PacketEndpoint } from './types.js';

/** Entries of the addon's counters() before the per-queue read counts. */
const COUNTERS_BEFORE_QUEUES = 10;

/** Packets an endpoint dropped inside the addon, for the datapath's counters. */
export interface EndpointDropCounters {
  /** Received packets dropped because they did not fit the slot (slotSize - headroom). */
  readonly truncatedReads: number;
  /** Packets consumed by writeBatch but refused by the kernel for a per-packet reason. */
  readonly writeErrors: number;
  /** errno of the last such refused write (0 if none). */
  readonly lastWriteErrno: number;
  /** Packets the addon read for a fast route's endpoint that no route took and JS never read. */
  readonly unreadForwarded: number;
}

/**
 * What a TUN's offloads did since it was opened (all 0 on a TUN without them): the kernel's TCP
 * super-packets split into segments on read, partial checksums finished, and received segments
 * merged into super-packets on write.
 */
export interface OffloadCounters {
  readonly superPackets: number;
  readonly segments: number;
  readonly checksums: number;
  /** Reads dropped because their virtio-net header or packet broke the offload rules. */
  readonly malformed: number;
  readonly mergedWrites: number;
  readonly mergedSegments: number;
}

/** What every native endpoint offers beyond the PacketEndpoint contract. */
export interface NativePacketEndpoint extends PacketEndpoint {
  /** PacketEndpoint.onReadable; `null` stops the readiness callbacks. */
  onReadable(onReadable: (() => void) | null): void;
  /**
   * Calls `onWritable` once, when the kernel accepts writes again after a short writeBatch
   * (a TUN device counts as writable only while it is up).
   */
  onWritable(onWritable: (() => void) | null): void;
  /** An active readiness watch keeps the event loop alive (the default). */
  ref(): void;
  /** An active readiness watch no longer keeps the event loop alive. */
  unref(): void;
  /** Drops counted inside the addon since the endpoint was opened. */
  dropCounters(): EndpointDropCounters;
  /** What the TUN offloads did since the endpoint was opened. */
  offloadCounters(): OffloadCounters;
  /** Packets read from each of a TUN's queues since it was opened (empty for a socket). */
  queueReads(): number[];
  /**
   * What ICMP on the outer path said about path MTUs since the last call (an IPv6 socket reads
   * Packet Too Big from its error queue): the destination and the MTU toward it, newest per
   * destination. Empty on TUNs and IPv4 sockets.
   */
  takePathMtuReports(): PathMtuReport[];
}

/** The path toward `address` takes packets of at most `mtu` bytes. */
export interface PathMtuReport {
  readonly address: string;
  readonly mtu: number;
}

/**
 * A TUN device or socket held by the addon. JS checks arguments and owns the error class; the
 * addon does the system calls. After close() the handle is dropped, so nothing can reach the
 * (possibly reused) descriptor number again.
 */
export class NativeEndpoint implements NativePacketEndpoint {
  #handle: NativeEndpointHandle | null;
  readonly #views: BatchViews;
  readonly #label: string;

  constructor(handle: NativeEndpointHandle, views: BatchViews, label: string) {
    this.#handle = handle;
    this.#views = views;
    this.#label = label;
  }

  get closed(): boolean {
    return this.#handle === null;
  }

  readBatch(batch: PacketBatchMemory, headroom = 0): number {
    const handle = this.#open('read');
    if (!Number.isInteger(headroom) || headroom < 0 || headroom >= batch.slotSize) {
      throw new NativeError('ERR_INVALID_ARGUMENT', `${this.#label}: headroom must be an integer from 0 to slotSize - 1, got ${headroom}`);
    }
    const view = this.#views.viewOf(batch);
    try {
      return handle.read(view, headroom);
    } catch (err) {
      throw toNativeError(err, `${this.#label}: read`);
    }
  }

  writeBatch(batch: PacketBatchMemory, count: number): number {
    const handle = this.#open('write');
    if (!Number.isInteger(count) || count < 0 || count > batch.capacity) {
      throw new NativeError('ERR_INVALID_ARGUMENT', `${this.#label}: count must be an integer from 0 to ${batch.capacity}, got ${count}`);
    }
    const view = this.#views.viewOf(batch);
    try {
      return handle.write(view, count);
    } catch (err) {
      throw toNativeError(err, `${this.#label}: write`);
    }
  }

  onReadable(onReadable: (() => void) | null): void {
    this.#watch('onReadable', onReadable);
  }

  onWritable(onWritable: (() => void) | null): void {
    this.#watch('onWritable', onWritable);
  }

  ref(): void {
    this.#handle?.setReferenced(true);
  }

  unref(): void {
    this.#handle?.setReferenced(false);
  }

  dropCounters(): EndpointDropCounters {
    const [truncatedReads, writeErrors, lastWriteErrno, unreadForwarded] = this.#open('read counters').counters();
    return { truncatedReads: truncatedReads!, writeErrors: writeErrors!, lastWriteErrno: lastWriteErrno!, unreadForwarded: unreadForwarded! };
  }

  takePathMtuReports(): PathMtuReport[] {
    const reports = this.#open('read path MTU reports').takePathMtuReports();
    return reports === undefined ? [] : reports.map(([address, mtu]) => ({ address: fromNativeAddress(address), mtu }));
  }

  offloadCounters(): OffloadCounters {
    const counters = this.#open('read counters').counters();
    const [superPackets, segments, checksums, malformed, mergedWrites, mergedSegments] = counters.slice(4);
    return { superPackets: superPackets!, segments: segments!, checksums: checksums!, malformed: malformed!, mergedWrites: mergedWrites!, mergedSegments: mergedSegments! };
  }

  queueReads(): number[] {
    return this.#open('read counters').counters().slice(COUNTERS_BEFORE_QUEUES);
  }

  close(): void {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    handle.close();
  }

  /** The addon handle of `endpoint`, for a fast route; ERR_CLOSED once it is closed. */
  static handleOf(endpoint: NativeEndpoint, action: string): NativeEndpointHandle {
    return endpoint.#open(action);
  }

  /**
   * Marks `endpoint` closed here and hands its addon handle to the caller, who closes it (e.g. in
   * a batch off the event loop); null when it was closed already.
   */
  static takeHandle(endpoint: NativeEndpoint): NativeEndpointHandle | null {
    const handle = endpoint.#handle;
    endpoint.#handle = null;
    return handle;
  }

  #open(action: string): NativeEndpointHandle {
    if (this.#handle === null) {
      throw new NativeError('ERR_CLOSED', `${this.#label}: cannot ${action}: the device or socket is closed`);
    }
    return this.#handle;
  }

  #watch(which: 'onReadable' | 'onWritable', callback: (() => void) | null): void {
    if (callback !== null && typeof callback !== 'function') {
      throw new NativeError('ERR_INVALID_ARGUMENT', `${this.#label}: ${which} needs a function or null`);
    }
    const handle = this.#open(`watch (${which})`);
    try {
      handle[which](callback);
    } catch (err) {
      throw toNativeError(err, `${this.#label}: ${which}`);
    }
  }
}
