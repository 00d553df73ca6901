import { decodeUdpHello, sealUdpHelloFrame, verifyUdpHelloMac } from '../wire/udp-hello.js';
import { isoTime, type BindingStatus } from './binding-status.js';
import { formatOuterKey, ipv6KeyBytes, isIpv6Key, outerKeyOf, UNKNOWN_OUTER_KEY, type OuterKey } from './outer-address.js';
import { NO_GRE_KEY, type OuterSocket } from './outer-socket.js';
import { helloFramingOf, sendHelloFrame } from './tunnel-keepalive.js';
import { sameAuth, type TunnelAuth, type TunnelSpec } from './tunnel-spec.js';
import type { Tunnel, TunnelPlacement } from './tunnel.js';
import { bindingChannel, type BindingChangeReason, type BindingEvent } from './udp-binding-event.js';

/**
 * The hub end of an authenticated UDP path, and the only writer of what it decides: which
 * address:port a verified hello bound (the tunnel's demux entry and send target), the last counter
 * accepted (replay protection without clocks: only a higher counter is taken), and the expiry
 * timer. It binds and moves on a verified hello, expires without one, gives way to another
 * tunnel's verified hello or a configured remote (displaced), is reset when its socket or
 * encapsulation changes, and carries over a re-key. Until the first hello the send target is the
 * spec's remote (a hint, never sent to); after an expiry it stays the last bound one, unused.
 * The key never leaves this object and the spec.
 */
export class HubBinding implements TunnelPlacement {
  readonly encap: TunnelSpec['encap'];
  #auth: TunnelAuth;
  #timeoutMs: number;
  /** Highest counter accepted in this session; -1 until the first hello. */
  #lastCounter = -1n;
  #bound = false;
  #address: OuterKey;
  #address6: Uint8Array | null;
  #port: number;
  #boundAt: number | null = null;
  #lastHelloAt: number | null = null;
  #hellosAccepted = 0;
  #expiry: NodeJS.Timeout | null = null;

  constructor(
    private readonly tunnel: Tunnel,
    /** The socket whose binding table and demux table hold this tunnel. */
    readonly socket: OuterSocket,
    spec: TunnelSpec,
    private readonly emit: (event: BindingEvent) => void,
  ) {
    this.encap = spec.encap;
    this.#auth = spec.auth!;
    this.#timeoutMs = spec.bindingTimeout * 1000;
    this.#address = outerKeyOf(spec.remote);
    this.#address6 = this.#bytesOf(this.#address);
    this.#port = spec.remotePort;
  }

  get address(): OuterKey {
    return this.#address;
  }

  get address6(): Uint8Array | null {
    return this.#address6;
  }

  get port(): number {
    return this.#port;
  }

  get sending(): boolean {
    return this.#bound;
  }

  get receiving(): boolean {
    return this.#bound && this.socket.lookup(this.#address, this.#port) === this.tunnel;
  }

  /** Enters the socket's binding table, unbound until a verified hello. */
  join(): void {
    this.socket.claimBinding(this.#auth.bindingId, this.tunnel);
  }

  leave(reset: boolean): void {
    if (reset) {
      this.#unbind('reset');
    } else {
      if (this.#expiry !== null) clearTimeout(this.#expiry);
      if (this.#bound) this.socket.unregister(this.tunnel, this.#address, this.#port);
    }
    this.socket.releaseBinding(this.#auth.bindingId, this.tunnel);
  }

  /**
   * Whether this binding survives a change to `spec` on `socket`: it names a NAT mapping toward
   * this socket, so anything but a new socket or encapsulation keeps it (a re-keyed session
   * included: the address was verified already).
   */
  carriesOver(spec: TunnelSpec, socket: OuterSocket): boolean {
    return spec.auth?.role === 'hub' && socket === this.socket && spec.encap === this.encap;
  }

  /**
   * Follows `spec` after carriesOver said yes: a new key or binding id starts a new session
   * (counters over, same address); an unbound binding takes the new hint; a new timeout re-arms.
   */
  renew(spec: TunnelSpec): void {
    const auth = spec.auth!;
    if (!sameAuth(this.#auth, auth)) {
      this.socket.releaseBinding(this.#auth.bindingId, this.tunnel);
      this.#auth = auth;
      this.#lastCounter = -1n;
    }
    this.socket.claimBinding(auth.bindingId, this.tunnel);
    const timeoutMs = spec.bindingTimeout * 1000;
    const newTimeout = timeoutMs !== this.#timeoutMs;
    this.#timeoutMs = timeoutMs;
    if (!this.#bound) {
      this.#address = outerKeyOf(spec.remote);
      this.#address6 = this.#bytesOf(this.#address);
      this.#port = spec.remotePort;
    } else if (newTimeout) {
      this.#armExpiry();
    }
  }

  /** Another tunnel's verified hello, or a configured remote, took this address:port. */
  displace(): void {
    this.#unbind('displaced');
  }

  /**
   * A hello naming this binding id, received on its socket from source:port and framed as
   * `encap` (with `greKey` for fou), its body at `offset` in `buf`. It binds only when framed the
   * way this tunnel is, its MAC verifies with the key and its counter is above the last one
   * accepted; then the binding moves there at once (displacing a stale hub-role holder), the expiry
   * re-arms, and a signed ack goes back. Otherwise it is counted and answered with nothing.
   * `resolveSource` gives an IPv6 source nobody named its key, once the hello verified.
   */
  acceptHello(
    counter: bigint, encap: 'fou' | 'gue', greKey: number | null, source: OuterKey, port: number,
    buf: Uint8Array, offset: number, resolveSource: (() => OuterKey) | null,
  ): void {
    const tunnel = this.tunnel;
    // ESP in UDP frames hellos as fou does (GRE type 0), behind the non-ESP marker.
    if (helloFramingOf(tunnel).encap !== encap || (encap === 'fou' && (greKey ?? NO_GRE_KEY) !== tunnel.greKey)) {
      tunnel.counters.rxDrop('hello-wrong-encap');
      return;
    }
    if (!verifyUdpHelloMac(buf, offset, this.#auth.key)) {
      tunnel.counters.rxDrop('hello-bad-mac');
      return;
    }
    if (counter <= this.#lastCounter) {
      tunnel.counters.rxDrop('hello-replay');
      return;
    }
    const holder = this.socket.lookup(source, port);
    if (holder !== undefined && holder !== tunnel) {
      // A static tunnel's peer is configured, not claimed; a hub-role holder is stale (its NAT
      // mapping went to someone else, who just proved who they are).
      if (!(holder.placement instanceof HubBinding)) {
        tunnel.counters.rxDrop('hello-address-taken');
        return;
      }
      holder.placement.displace();
    }
    if (source === UNKNOWN_OUTER_KEY) {
      if (resolveSource === null) return;
      source = resolveSource();
    }
    this.#lastCounter = counter;
    this.#lastHelloAt = Date.now();
    this.#hellosAccepted++;
    if (!this.#bound || this.#address !== source || this.#port !== port) this.#bind(source, port);
    this.#armExpiry();
    tunnel.liveness.markHeard();
    sendHelloFrame(tunnel, (target, offset) => sealUdpHelloFrame(target, offset, { encap, greKey },
      // The view field holds an IPv4 address: over IPv6 (no NAT to report) the ack carries none.
      { kind: 'ack', bindingId: this.#auth.bindingId, counter, view: isIpv6Key(source) ? null : { address: source, port } }, this.#auth.key));
  }

  bindingStatus(): BindingStatus {
    const spec = this.tunnel.spec;
    return {
      role: 'hub',
      bindingId: this.#auth.bindingId,
      state: this.#bound ? 'bound' : 'unbound',
      address: this.#bound ? formatOuterKey(this.#address) : null,
      port: this.#bound ? this.#port : null,
      boundAt: isoTime(this.#boundAt),
      lastHelloAt: isoTime(this.#lastHelloAt),
      lastAckAt: null,
      counter: this.#lastCounter < 0n ? '' : this.#lastCounter.toString(),
      hellos: this.#hellosAccepted,
      helloInterval: spec.helloInterval,
      bindingTimeout: spec.bindingTimeout,
      rttMs: null,
    };
  }

  /** Points the tunnel at a verified address:port: demux entry, send target, event. */
  #bind(address: OuterKey, port: number): void {
    const previous = this.#bound ? { address: formatOuterKey(this.#address), port: this.#port } : null;
    if (this.#bound) this.socket.unregister(this.tunnel, this.#address, this.#port);
    this.socket.register(this.tunnel, address, port);
    this.#bound = true;
    this.#address = address;
    this.#address6 = this.#bytesOf(address);
    this.#port = port;
    this.#boundAt = Date.now();
    this.tunnel.placementChanged();
    const reason: BindingChangeReason = previous === null ? 'bound' : 'moved';
    this.#publish({ name: this.tunnel.spec.name, address: formatOuterKey(address), port, reason, ...(previous ? { previous } : {}) });
  }

  /**
   * Stops the tunnel sending anywhere: its demux entry goes, outbound packets are dropped as
   * 'unbound', liveness goes down, until a verified hello binds it again.
   */
  #unbind(reason: BindingChangeReason): void {
    if (this.#expiry !== null) clearTimeout(this.#expiry);
    this.#expiry = null;
    if (!this.#bound) return;
    this.socket.unregister(this.tunnel, this.#address, this.#port);
    const stale = { address: formatOuterKey(this.#address), port: this.#port };
    this.#bound = false;
    this.#boundAt = null;
    this.tunnel.placementChanged();
    this.tunnel.liveness.markLost();
    this.#publish({ name: this.tunnel.spec.name, ...stale, reason });
  }

  /** (Re)starts the countdown after which a binding with no valid hello expires. */
  #armExpiry(): void {
    if (this.#expiry !== null) clearTimeout(this.#expiry);
    const elapsed = this.#lastHelloAt === null ? 0 : Date.now() - this.#lastHelloAt;
    this.#expiry = setTimeout(() => {
      this.#expiry = null;
      this.#unbind('expired');
    }, Math.max(0, this.#timeoutMs - elapsed));
    this.#expiry.unref();
  }

  #publish(event: BindingEvent): void {
    if (bindingChannel.hasSubscribers) bindingChannel.publish(event);
    this.emit(event);
  }

  #bytesOf(address: OuterKey): Uint8Array | null {
    return this.socket.family === 6 ? ipv6KeyBytes(address) : null;
  }
}

/**
 * A hello body at [offset, offset+length) received on `socket` from source:port, framed as
 * `encap` (with `greKey` for fou). Malformed bodies, acks and unknown binding ids are charged to
 * the source; a hello naming a hub-role tunnel of this socket goes to its binding (acceptHello).
 * `source` is UNKNOWN_OUTER_KEY for an IPv6 address nobody named yet; `resolveSource` then gives
 * it a key, and is only called once the hello verified.
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
  const binding = socket.bindingHolder(hello.bindingId)?.placement;
  if (!(binding instanceof HubBinding)) {
    socket.dropFrom(source, 'hello-unknown-binding');
    return;
  }
  binding.acceptHello(hello.counter, encap, greKey, source, port, buf, offset, resolveSource);
}
