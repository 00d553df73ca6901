import { NativeError } from './native-error.js';
import type { NativeFastRouteHandle } from './addon-binding.js';
import { EspInbound, EspSecurityAssociation } from './esp.js';
import { NativeEndpoint } from './native-endpoint.js';
import { toNativeError } from './system-error.js';
import type { DestinationBytes, FastRoute, FastRouteConfig, FastRouteCounters, PacketEndpoint } from './types.js';

const MAX_HEADER_BYTES = 32;
const SOURCE6_ENTRY_BYTES = 32;

/** A fast route held by the addon; arguments are checked here, before they cross. */
export class NativeFastRoute implements FastRoute {
  #handle: NativeFastRouteHandle | null;

  constructor(handle: NativeFastRouteHandle) {
    this.#handle = handle;
  }

  configure(config: FastRouteConfig): void {
    const handle = this.#open();
    const tun = nativeHandle(config.tun, 'TUN');
    const outer = config.outer === null ? null : nativeHandle(config.outer, 'outer socket');
    checkHeader(config.header4, 'header4');
    checkHeader(config.header6, 'header6');
    checkHeader(config.headerEthernet ?? null, 'headerEthernet');
    checkUnsigned(config.remoteAddress, 0xffff_ffff, 'remoteAddress');
    const remote6 = config.remoteAddress6 ?? null;
    if (remote6 !== null && !(remote6 instanceof Uint8Array && remote6.length === 16)) {
      throw new NativeError('ERR_INVALID_ARGUMENT', 'fast route: remoteAddress6 must be 16 bytes, or null');
    }
    checkUnsigned(config.remotePort, 0xffff, 'remotePort');
    checkUnsigned(config.mtu, 0xffff, 'mtu');
    checkUnsigned(config.quietLimitMs, 0x7fff_ffff, 'quietLimitMs');
    checkSources(config.sources, 'sources');
    if (config.shared === true) {
      if (config.destinations === undefined || config.destinations === null) throw new NativeError('ERR_INVALID_ARGUMENT', 'fast route: a shared route needs destinations');
      checkSources(config.destinations, 'destinations');
    }
    const esp = config.esp ?? null;
    if (esp !== null && (!(esp.in instanceof EspInbound) || (esp.out !== null && !(esp.out instanceof EspSecurityAssociation)))) {
      throw new NativeError('ERR_INVALID_ARGUMENT', 'fast route: esp needs an EspInbound as in and an ESP SA or null as out');
    }
    // One literal with every field the addon reads: spreading the caller's object and then the ESP
    // fields into it made V8 build a new hidden class on every call (about 20 µs, most of a move's
    // reconfiguration of its route).
    const options = {
      tun, outer, transmit: config.transmit, receive: config.receive, remoteAddress: config.remoteAddress, remoteAddress6: config.remoteAddress6,
      remotePort: config.remotePort, header4: config.header4, header6: config.header6, headerEthernet: config.headerEthernet, mtu: config.mtu,
      clampMss: config.clampMss, quietLimitMs: config.quietLimitMs, sources: config.sources, shared: config.shared, destinations: config.destinations,
      tallyDestinations: config.tallyDestinations,
      encrypted: esp !== null, espOut: esp?.out?.nativeHandle() ?? null, espIn: esp?.in.nativeHandle() ?? null,
      espNextHeader4: esp?.nextHeader4 ?? 0, espNextHeader6: esp?.nextHeader6 ?? 0,
    };
    try {
      handle.configure(options);
    } catch (err) {
      throw toNativeError(err, 'configuring a fast route');
    }
  }

  counters(): FastRouteCounters {
    const [rxPackets, rxBytes, txPackets, txBytes, rxQueueFull, txQueueFull, rxErrors, txErrors, sinceReceive] = this.#open().counters();
    return {
      rxPackets, rxBytes, txPackets, txBytes, rxQueueFull, txQueueFull, rxErrors, txErrors,
      msSinceReceive: sinceReceive < 0 ? null : sinceReceive,
    };
  }

  drainDestinations(): DestinationBytes[] {
    return this.#open().drainDestinations();
  }

  close(): void {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    handle.close();
  }

  /** The addon handle of `route` (ERR_CLOSED once it is closed), for reading many routes' counters in one call. */
  static handleOf(route: NativeFastRoute): NativeFastRouteHandle {
    return route.#open();
  }

  #open(): NativeFastRouteHandle {
    if (this.#handle === null) throw new NativeError('ERR_CLOSED', 'fast route: it is closed');
    return this.#handle;
  }
}

/** Values per route in the array readFastRouteCounters fills, in FastRouteCounters order; the last is ms since the last receive, or -1. */
export const FAST_ROUTE_COUNTER_VALUES = 9;

function nativeHandle(endpoint: PacketEndpoint, what: string): ReturnType<typeof NativeEndpoint.handleOf> {
  if (!(endpoint instanceof NativeEndpoint)) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `fast route: the ${what} must be an endpoint opened by native/index.ts`);
  }
  return NativeEndpoint.handleOf(endpoint, 'attach a fast route');
}

function checkHeader(header: Uint8Array | null, name: string): void {
  if (header === null) return;
  if (!(header instanceof Uint8Array) || header.length > MAX_HEADER_BYTES) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `fast route: ${name} must be a Uint8Array of at most ${MAX_HEADER_BYTES} bytes, or null`);
  }
}

function checkUnsigned(value: number, max: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `fast route: ${name} must be an integer from 0 to ${max}, got ${String(value)}`);
  }
}

function checkSources(sources: FastRouteConfig['sources'], name: string): void {
  if (sources === null) return;
  if (typeof sources !== 'object' || !(sources.v4 instanceof Uint32Array) || sources.v4.length % 2 !== 0
    || !(sources.v6 instanceof Uint8Array) || sources.v6.length % SOURCE6_ENTRY_BYTES !== 0) {
    throw new NativeError('ERR_INVALID_ARGUMENT', `fast route: ${name} must be null or { v4: Uint32Array of (network, mask) pairs, v6: Uint8Array of ${SOURCE6_ENTRY_BYTES}-byte entries }`);
  }
}
