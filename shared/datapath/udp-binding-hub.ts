import { decodeUdpHello, sealUdpHelloFrame, verifyUdpHelloMac } from '../wire/udp-hello.js';
import { formatOuterKey, isIpv6Key, UNKNOWN_OUTER_KEY, type OuterKey } from './outer-address.js';
import { NO_GRE_KEY, type OuterSocket } from './outer-socket.js';
import { bindingChannel, type BindingChangeReason, type BindingEvent } from './udp-binding-event.js';
import { sendControl } from './tunnel-keepalive.js';
import type { Tunnel } from './tunnel.js';
import { syncFastRoute } from './fast-route-sync.js';

/**
 * The hub end of an authenticated UDP path: which address:port a verified hello bound, the last
 * counter accepted (replay protection without clocks: only a higher counter is taken), and the
 * expiry timer. The key never leaves this object and the spec.
 */
export class HubBinding {
  /** Highest counter accepted in this session; -1 until the first hello. */
  lastCounter = -1n;
  /** The bound address (an outer key) and port, or null while unbound. */
  address: OuterKey | null = null;
  port = 0;
  boundAt: number | null = null;
  lastHelloAt: number | null = null;
  hellosAccepted = 0;
  expiry: NodeJS.Timeout | null = null;

  constructor(
    public bindingId: number,
    public key: Buffer,
    private readonly emit: (event: BindingEvent) => void,
  ) {}

  /** A new session (new key or binding id): counters start over, the verified address stays. */
  rekey(bindingId: number, key: Buffer): void {
    this.bindingId = bindingId;
    this.key = key;
    this.lastCounter = -1n;
  }

  /** Publishes a change on the diagnostics channel and to the engine's callback. */
  publish(event: BindingEvent): void {
    if (bindingChannel.hasSubscribers) bindingChannel.publish(event);
    this.emit(event);
  }
}

/**
 * A hello body at [offset, offset+length) received on `socket` from source:port, framed as
 * `encap` (with `greKey` for fou). It moves a binding only when all of these hold: it decodes, is
 * a `hello` (not an ack), names a binding id of a hub-role tunnel on this socket framed the way
 * that tunnel is, its MAC verifies with that tunnel's key, and its counter is above the last one
 * accepted. Then the tunnel is bound (or moved) to source:port at once, its expiry re-armed, and
 * an ack sent there. Anything else is counted by reason and answered with nothing, so the hub
 * never sends to an address it has not verified. `source` is UNKNOWN_OUTER_KEY for an IPv6 address
 * nobody named yet; `resolveSource` then gives it a key, and is only called once the hello verified.
 */
export function receiveHubHello(
  socket: OuterSocket, encap: 'fou' | 'gue', greKey: number | null,
  source: OuterKey, port: number, buf: Uint8Array, offset: number, length: number,
  resolveSource: (() => OuterKey) | null = null,
): void {
  const hello = decodeUdpHello(buf, offset, length);
  if (!hello.ok) {
    socket.dropFrom(source, 'hello-malformed');
    return;
  }
  if (hello.kind !== 'hello') {
    socket.dropFrom(source, 'hello-unexpected');
    return;
  }
  const tunnel = socket.bindings.get(hello.bindingId);
  const binding = tunnel?.hub ?? null;
  if (tunnel === undefined || binding === null) {
    socket.dropFrom(source, 'hello-unknown-binding');
    return;
  }
  if (tunnel.spec.encap !== encap || (encap === 'fou' && (greKey ?? NO_GRE_KEY) !== tunnel.greKey)) {
    tunnel.counters.rxDrop('hello-wrong-encap');
    return;
  }
  if (!verifyUdpHelloMac(buf, offset, binding.key)) {
    tunnel.counters.rxDrop('hello-bad-mac');
    return;
  }
  if (hello.counter <= binding.lastCounter) {
    tunnel.counters.rxDrop('hello-replay');
    return;
  }
  const holder = socket.lookup(source, port);
  if (holder !== undefined && holder !== tunnel) {
    // A static tunnel's peer is configured, not claimed; a hub-role holder is stale (its NAT
    // mapping went to someone else, who just proved who they are).
    if (holder.hub === null) {
      tunnel.counters.rxDrop('hello-address-taken');
      return;
    }
    unbindHubTunnel(holder, 'displaced');
  }
  if (source === UNKNOWN_OUTER_KEY) {
    if (resolveSource === null) return;
    source = resolveSource();
  }
  binding.lastCounter = hello.counter;
  binding.lastHelloAt = Date.now();
  binding.hellosAccepted++;
  if (binding.address !== source || binding.port !== port) bindHubTunnel(tunnel, source, port);
  armBindingExpiry(tunnel);
  tunnel.liveness.markHeard();
  const batch = socket.controlBatch;
  const written = sealUdpHelloFrame(batch.data, 0, { encap, greKey },
    // The view field holds an IPv4 address: over IPv6 (no NAT to report) the ack carries none.
    { kind: 'ack', bindingId: binding.bindingId, counter: hello.counter, view: isIpv6Key(source) ? null : { address: source, port } }, binding.key);
  sendControl(tunnel, written);
}

/** Points a hub-role tunnel at a verified address:port: demux entry, send target, event. */
export function bindHubTunnel(tunnel: Tunnel, address: OuterKey, port: number): void {
  const binding = tunnel.hub!;
  const previous = binding.address === null ? null : { address: formatOuterKey(binding.address), port: binding.port };
  if (binding.address !== null) tunnel.socket.unregister(tunnel, tunnel.remoteAddress, tunnel.subKey);
  tunnel.socket.register(tunnel, address, port);
  tunnel.remoteAddress = address;
  tunnel.remotePort = port;
  tunnel.subKey = port;
  tunnel.unbound = false;
  binding.address = address;
  binding.port = port;
  binding.boundAt = Date.now();
  syncFastRoute(tunnel);
  const reason: BindingChangeReason = previous === null ? 'bound' : 'moved';
  binding.publish({ name: tunnel.spec.name, address: formatOuterKey(address), port, reason, ...(previous ? { previous } : {}) });
}

/**
 * Stops a hub-role tunnel sending anywhere: its demux entry goes, outbound packets are dropped as
 * 'unbound', liveness goes down, until a verified hello binds it again.
 */
export function unbindHubTunnel(tunnel: Tunnel, reason: BindingChangeReason): void {
  const binding = tunnel.hub!;
  if (binding.expiry !== null) clearTimeout(binding.expiry);
  binding.expiry = null;
  tunnel.unbound = true;
  if (binding.address === null) return;
  tunnel.socket.unregister(tunnel, tunnel.remoteAddress, tunnel.subKey);
  const stale = { address: formatOuterKey(binding.address), port: binding.port };
  binding.address = null;
  binding.port = 0;
  binding.boundAt = null;
  syncFastRoute(tunnel);
  tunnel.liveness.markLost();
  binding.publish({ name: tunnel.spec.name, ...stale, reason });
}

/** (Re)starts the countdown after which a binding with no valid hello expires. */
export function armBindingExpiry(tunnel: Tunnel): void {
  const binding = tunnel.hub!;
  if (binding.expiry !== null) clearTimeout(binding.expiry);
  const elapsed = binding.lastHelloAt === null ? 0 : Date.now() - binding.lastHelloAt;
  binding.expiry = setTimeout(() => {
    binding.expiry = null;
    unbindHubTunnel(tunnel, 'expired');
  }, Math.max(0, tunnel.spec.bindingTimeout * 1000 - elapsed));
  binding.expiry.unref();
}
