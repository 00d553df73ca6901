import type { NativePacketEndpoint, OffloadCounters, PathMtuReport } from '../native/native-endpoint.js';
import { isNativeError } from '../native/native-error.js';
import type { DestinationBytes, FastRoute, FastRouteConfig, FastRouteCounters, PacketBatchMemory, PacketEndpoint } from '../native/types.js';
import { TunnelError } from './errors.js';

/**
 * Where shared/ meets native/: native/ raises its own NativeError (it imports nothing from
 * shared/), and everything that crosses back up here raises TunnelErrors with the same code and
 * message, so callers above see only the project's error class.
 */

/** A NativeError becomes a TunnelError with its code and message (the NativeError as `cause`); anything else is returned as it is. */
export function tunnelErrorFromNative(err: unknown): unknown {
  if (!isNativeError(err)) return err;
  return new TunnelError(err.code, err.message, { cause: err });
}

/** Runs `action`, rethrowing a NativeError as the TunnelError tunnelErrorFromNative makes of it. */
export function fromNative<T>(action: () => T): T {
  try {
    return action();
  } catch (err) {
    throw tunnelErrorFromNative(err);
  }
}

/** A native TUN device or socket whose errors come out as TunnelErrors. */
export class BoundaryEndpoint implements PacketEndpoint {
  constructor(readonly inner: NativePacketEndpoint) {}

  get closed(): boolean {
    return this.inner.closed;
  }

  readBatch(batch: PacketBatchMemory, headroom?: number): number {
    try {
      return this.inner.readBatch(batch, headroom);
    } catch (err) {
      throw tunnelErrorFromNative(err);
    }
  }

  writeBatch(batch: PacketBatchMemory, count: number): number {
    try {
      return this.inner.writeBatch(batch, count);
    } catch (err) {
      throw tunnelErrorFromNative(err);
    }
  }

  onReadable(onReadable: (() => void) | null): void {
    fromNative(() => this.inner.onReadable(onReadable));
  }

  offloadCounters(): OffloadCounters {
    return fromNative(() => this.inner.offloadCounters());
  }

  queueReads(): number[] {
    return fromNative(() => this.inner.queueReads());
  }

  takePathMtuReports(): PathMtuReport[] {
    return fromNative(() => this.inner.takePathMtuReports());
  }

  close(): void {
    fromNative(() => this.inner.close());
  }
}

/** A TUN device behind the boundary: a BoundaryEndpoint with the device's name and offload state. */
export class BoundaryTun extends BoundaryEndpoint {
  readonly name: string;
  readonly offload: boolean;

  constructor(tun: NativePacketEndpoint & { readonly name: string; readonly offload: boolean }) {
    super(tun);
    this.name = tun.name;
    this.offload = tun.offload;
  }
}

/** A native fast route whose errors come out as TunnelErrors; it hands the addon the endpoints behind BoundaryEndpoints. */
export class BoundaryFastRoute implements FastRoute {
  constructor(readonly inner: FastRoute) {}

  configure(config: FastRouteConfig): void {
    fromNative(() => this.inner.configure({ ...config, tun: unwrap(config.tun), outer: config.outer === null ? null : unwrap(config.outer) }));
  }

  counters(): FastRouteCounters {
    return fromNative(() => this.inner.counters());
  }

  drainDestinations(): DestinationBytes[] {
    return fromNative(() => this.inner.drainDestinations?.() ?? []);
  }

  close(): void {
    fromNative(() => this.inner.close());
  }
}

function unwrap(endpoint: PacketEndpoint): PacketEndpoint {
  return endpoint instanceof BoundaryEndpoint ? endpoint.inner : endpoint;
}
