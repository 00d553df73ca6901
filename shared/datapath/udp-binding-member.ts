import { decodeUdpHello, sealUdpHelloFrame, verifyUdpHelloMac } from '../wire/udp-hello.js';
import { sendControl } from './tunnel-keepalive.js';
import type { Tunnel } from './tunnel.js';

/** How long a member waits for a hello-ack before resending (doubling up to the hello interval). */
export const HELLO_ACK_TIMEOUT_MS = 300;

/**
 * The member end of an authenticated UDP path: the counter of its hellos (strictly increasing per
 * session), the hello waiting for an ack, the retry backoff, and what the acks said.
 */
export class MemberBinding {
  /** The counter of the last hello sent; 0 before the first. */
  counter = 0n;
  /** The highest counter the hub acknowledged; -1 before the first ack. */
  lastAcked = -1n;
  /** The hello sent and not yet acknowledged, if any. */
  outstanding: { counter: bigint; sentAt: number } | null = null;
  backoffMs = HELLO_ACK_TIMEOUT_MS;
  retry: NodeJS.Timeout | null = null;
  interval: NodeJS.Timeout | null = null;
  /** Wall-clock ms when anything valid last came from the hub (data, echo, ack). */
  lastHeardAt = 0;
  lastAckAt: number | null = null;
  /** The address:port the hub saw our last acknowledged hello come from (our NAT's mapping). */
  observed: { address: number; port: number } | null = null;
  rttMs: number | null = null;
  hellosSent = 0;

  constructor(public bindingId: number, public key: Buffer) {}

  /** A new session: counters are per key, so acknowledgements start over (the counter only grows). */
  rekey(bindingId: number, key: Buffer): void {
    this.bindingId = bindingId;
    this.key = key;
    this.lastAcked = -1n;
    this.outstanding = null;
  }
}

/**
 * Sends a hello now from the tunnel's UDP socket, so it crosses the NAT on the same mapping as the
 * data. The counter is the larger of last + 1 and the wall clock in microseconds: strictly
 * increasing within a session and, as long as the local clock does not step back, across restarts
 * of this end with the same key. Arms the ack timeout: without an ack in backoffMs the hello is
 * resent and the wait doubles, up to the hello interval.
 */
export function sendMemberHello(tunnel: Tunnel): void {
  const member = tunnel.member!;
  const now = Date.now();
  const clock = BigInt(now) * 1000n;
  member.counter = member.counter + 1n > clock ? member.counter + 1n : clock;
  member.outstanding = { counter: member.counter, sentAt: now };
  member.hellosSent++;
  const { spec } = tunnel;
  const batch = tunnel.socket.controlBatch;
  const written = sealUdpHelloFrame(batch.data, 0, { encap: spec.encap === 'gue' ? 'gue' : 'fou', greKey: spec.key },
    // The view field holds an IPv4 address: a hello over IPv6 carries none.
    { kind: 'hello', bindingId: member.bindingId, counter: member.counter, view: spec.outerFamily === 6 ? null : { address: tunnel.localAddress, port: spec.localPort } },
    member.key);
  sendControl(tunnel, written);
  if (member.retry === null) {
    member.retry = setTimeout(() => {
      member.retry = null;
      if (tunnel.closed || member.outstanding === null) return;
      member.backoffMs = Math.min(member.backoffMs * 2, tunnel.spec.helloInterval * 1000);
      sendMemberHello(tunnel);
    }, member.backoffMs);
    member.retry.unref();
  }
}

/** Starts a member's hellos: one now, then one per hello interval (unless one awaits its ack). */
export function startMemberHellos(tunnel: Tunnel): void {
  const member = tunnel.member!;
  stopMemberHellos(tunnel);
  member.interval = setInterval(() => {
    if (!tunnel.closed && member.outstanding === null) sendMemberHello(tunnel);
  }, tunnel.spec.helloInterval * 1000);
  member.interval.unref();
  sendMemberHello(tunnel);
}

/** Stops a member's timers (tunnel removed, or its auth changed). */
export function stopMemberHellos(tunnel: Tunnel): void {
  const member = tunnel.member!;
  if (member.interval !== null) clearInterval(member.interval);
  if (member.retry !== null) clearTimeout(member.retry);
  member.interval = null;
  member.retry = null;
  member.backoffMs = HELLO_ACK_TIMEOUT_MS;
}

/**
 * Called after the TUN → outer path sent a batch: when we are sending but have heard nothing from
 * the hub for longer than the ack timeout, the NAT may have re-mapped us (the hub then drops our
 * packets as coming from an unbound source), so say hello now instead of at the next interval.
 */
export function noteMemberTransmit(tunnel: Tunnel): void {
  const member = tunnel.member!;
  if (member.outstanding !== null) return;
  if (Date.now() - member.lastHeardAt > HELLO_ACK_TIMEOUT_MS) sendMemberHello(tunnel);
}

/**
 * A hello frame received by a member from its hub at [offset, offset+length): only an ack with
 * this tunnel's binding id, a MAC that verifies, and a counter we sent and that is above the last
 * acknowledged one is taken. It ends the retries and proves the path (liveness, probes). Nothing
 * is ever sent in answer.
 */
export function receiveMemberAck(tunnel: Tunnel, buf: Uint8Array, offset: number, length: number): void {
  const member = tunnel.member!;
  const ack = decodeUdpHello(buf, offset, length);
  if (!ack.ok) {
    tunnel.counters.rxDrop('hello-malformed');
    return;
  }
  if (ack.kind !== 'ack') {
    tunnel.counters.rxDrop('hello-unexpected');
    return;
  }
  if (ack.bindingId !== member.bindingId) {
    tunnel.counters.rxDrop('hello-unknown-binding');
    return;
  }
  if (!verifyUdpHelloMac(buf, offset, member.key)) {
    tunnel.counters.rxDrop('hello-bad-mac');
    return;
  }
  if (ack.counter <= member.lastAcked || ack.counter > member.counter) {
    tunnel.counters.rxDrop('hello-replay');
    return;
  }
  const now = Date.now();
  if (member.outstanding !== null && ack.counter === member.outstanding.counter) member.rttMs = now - member.outstanding.sentAt;
  member.lastAcked = ack.counter;
  member.lastAckAt = now;
  member.lastHeardAt = now;
  member.observed = ack.view;
  member.outstanding = null;
  member.backoffMs = HELLO_ACK_TIMEOUT_MS;
  if (member.retry !== null) clearTimeout(member.retry);
  member.retry = null;
  tunnel.liveness.markHeard();
  tunnel.probes.answered('hello');
}
