import { decodeUdpHello, sealUdpHelloFrame, verifyUdpHelloMac } from '../wire/udp-hello.js';
import { isoTime, type BindingStatus } from './binding-status.js';
import { formatOuterKey } from './outer-address.js';
import { helloFramingOf, sendHelloFrame } from './tunnel-keepalive.js';
import type { TunnelAuth } from './tunnel-spec.js';
import type { MemberEnd, Tunnel } from './tunnel.js';

/** How long a member waits for a hello-ack before resending (doubling up to the hello interval). */
export const HELLO_ACK_TIMEOUT_MS = 300;

/**
 * The member end of an authenticated UDP path: the counter of its hellos (strictly increasing per
 * session), the hello waiting for an ack, the retry backoff, what the acks said, and the timers.
 * The key never leaves this object and the spec.
 */
export class MemberBinding implements MemberEnd {
  #auth: TunnelAuth;
  /** The counter of the last hello sent; 0 before the first. */
  #counter = 0n;
  /** The highest counter the hub acknowledged; -1 before the first ack. */
  #lastAcked = -1n;
  /** The hello sent and not yet acknowledged, if any. */
  #outstanding: { counter: bigint; sentAt: number } | null = null;
  #backoffMs = HELLO_ACK_TIMEOUT_MS;
  #retry: NodeJS.Timeout | null = null;
  #interval: NodeJS.Timeout | null = null;
  /** Wall-clock ms when anything valid last came from the hub (data, ack, the fast route's receives). */
  #lastHeardAt = 0;
  #lastAckAt: number | null = null;
  /** The address:port the hub saw our last acknowledged hello come from (our NAT's mapping). */
  #observed: { address: number; port: number } | null = null;
  #rttMs: number | null = null;
  #hellosSent = 0;

  constructor(private readonly tunnel: Tunnel, auth: TunnelAuth) {
    this.#auth = auth;
  }

  get waiting(): boolean {
    return this.#outstanding !== null;
  }

  /** A new session: counters are per key, so acknowledgements start over (the counter only grows). */
  renew(auth: TunnelAuth): void {
    if (auth.bindingId === this.#auth.bindingId && auth.key.equals(this.#auth.key)) return;
    this.#auth = auth;
    this.#lastAcked = -1n;
    this.#outstanding = null;
  }

  /** One hello now, then one per hello interval (unless one awaits its ack). */
  start(): void {
    this.stop();
    this.#interval = setInterval(() => {
      if (!this.tunnel.closed && this.#outstanding === null) this.sayHello();
    }, this.tunnel.spec.helloInterval * 1000);
    this.#interval.unref();
    this.sayHello();
  }

  /** Stops the timers (tunnel removed, or its auth changed). */
  stop(): void {
    if (this.#interval !== null) clearInterval(this.#interval);
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#interval = null;
    this.#retry = null;
    this.#backoffMs = HELLO_ACK_TIMEOUT_MS;
  }

  /**
   * Sends a hello now from the tunnel's UDP socket, so it crosses the NAT on the same mapping as the
   * data. The counter is the larger of last + 1 and the wall clock in microseconds: strictly
   * increasing within a session and, as long as the local clock does not step back, across restarts
   * of this end with the same key. Arms the ack timeout: without an ack in backoffMs the hello is
   * resent and the wait doubles, up to the hello interval.
   */
  sayHello(): void {
    const tunnel = this.tunnel;
    const now = Date.now();
    const clock = BigInt(now) * 1000n;
    this.#counter = this.#counter + 1n > clock ? this.#counter + 1n : clock;
    this.#outstanding = { counter: this.#counter, sentAt: now };
    this.#hellosSent++;
    const { spec } = tunnel;
    sendHelloFrame(tunnel, (target, offset) => sealUdpHelloFrame(target, offset, helloFramingOf(tunnel),
      // The view field holds an IPv4 address: a hello over IPv6 carries none.
      { kind: 'hello', bindingId: this.#auth.bindingId, counter: this.#counter, view: spec.outerFamily === 6 ? null : { address: tunnel.localAddress, port: spec.localPort } },
      this.#auth.key));
    if (this.#retry === null) {
      this.#retry = setTimeout(() => {
        this.#retry = null;
        if (tunnel.closed || this.#outstanding === null) return;
        this.#backoffMs = Math.min(this.#backoffMs * 2, tunnel.spec.helloInterval * 1000);
        this.sayHello();
      }, this.#backoffMs);
      this.#retry.unref();
    }
  }

  /**
   * Called after the TUN → outer path sent a batch: when we are sending but have heard nothing from
   * the hub for longer than the ack timeout, the NAT may have re-mapped us (the hub then drops our
   * packets as coming from an unbound source), so say hello now instead of at the next interval.
   */
  noteTransmit(): void {
    if (this.#outstanding !== null) return;
    if (Date.now() - this.#lastHeardAt > HELLO_ACK_TIMEOUT_MS) this.sayHello();
  }

  heardNow(): void {
    this.#lastHeardAt = Date.now();
  }

  heardAgo(ms: number): void {
    this.#lastHeardAt = Math.max(this.#lastHeardAt, Date.now() - ms);
  }

  /**
   * A hello frame received from the hub at [offset, offset+length): only an ack with this binding
   * id, a MAC that verifies, and a counter we sent and that is above the last acknowledged one is
   * taken. It ends the retries and proves the path (liveness, probes). Nothing is ever sent in
   * answer.
   */
  receiveAck(buf: Uint8Array, offset: number, length: number): void {
    const tunnel = this.tunnel;
    const ack = decodeUdpHello(buf, offset, length);
    if (!ack.ok) {
      tunnel.counters.rxDrop('hello-malformed');
      return;
    }
    if (ack.kind !== 'ack') {
      tunnel.counters.rxDrop('hello-unexpected');
      return;
    }
    if (ack.bindingId !== this.#auth.bindingId) {
      tunnel.counters.rxDrop('hello-unknown-binding');
      return;
    }
    if (!verifyUdpHelloMac(buf, offset, this.#auth.key)) {
      tunnel.counters.rxDrop('hello-bad-mac');
      return;
    }
    if (ack.counter <= this.#lastAcked || ack.counter > this.#counter) {
      tunnel.counters.rxDrop('hello-replay');
      return;
    }
    const now = Date.now();
    if (this.#outstanding !== null && ack.counter === this.#outstanding.counter) this.#rttMs = now - this.#outstanding.sentAt;
    this.#lastAcked = ack.counter;
    this.#lastAckAt = now;
    this.#lastHeardAt = now;
    this.#observed = ack.view;
    this.#outstanding = null;
    this.#backoffMs = HELLO_ACK_TIMEOUT_MS;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    tunnel.liveness.markHeard();
    tunnel.probes.answered('hello');
  }

  bindingStatus(): BindingStatus {
    const spec = this.tunnel.spec;
    return {
      role: 'member',
      bindingId: this.#auth.bindingId,
      state: this.#outstanding === null && this.#lastAckAt !== null ? 'acked' : 'waiting',
      address: this.#observed === null ? null : formatOuterKey(this.#observed.address),
      port: this.#observed === null ? null : this.#observed.port,
      boundAt: null,
      lastHelloAt: this.#outstanding === null ? null : isoTime(this.#outstanding.sentAt),
      lastAckAt: isoTime(this.#lastAckAt),
      counter: this.#counter.toString(),
      hellos: this.#hellosSent,
      helloInterval: spec.helloInterval,
      bindingTimeout: spec.bindingTimeout,
      rttMs: this.#rttMs,
    };
  }
}

/**
 * Creates, re-keys or drops the member end of `tunnel` to match its spec; `restart` (or a new
 * member end) says hello now and restarts the interval.
 */
export function followMemberAuth(tunnel: Tunnel, restart: boolean): void {
  const auth = tunnel.spec.auth;
  const current = tunnel.member;
  if (auth?.role !== 'member') {
    if (current !== null) {
      current.stop();
      tunnel.setMember(null);
    }
    return;
  }
  let member = current;
  if (member === null) {
    member = new MemberBinding(tunnel, auth);
    tunnel.setMember(member);
    restart = true;
  } else {
    member.renew(auth);
  }
  if (restart) member.start();
}
