import type { BindingRole } from './tunnel-spec.js';

/** The authenticated UDP binding of a tunnel with `auth`, as status shows it (never the key). */
export interface BindingStatus {
  role: BindingRole;
  bindingId: number;
  /** hub: 'bound' to a verified address:port or 'unbound'; member: 'acked' or 'waiting' for an ack. */
  state: 'bound' | 'unbound' | 'acked' | 'waiting';
  /** hub: the bound address:port; member: where the hub saw our last acknowledged hello come from. */
  address: string | null;
  port: number | null;
  /** hub: when the current address:port was bound. */
  boundAt: string | null;
  /** hub: the last valid hello; member: the last hello sent. */
  lastHelloAt: string | null;
  /** member: the last valid ack. */
  lastAckAt: string | null;
  /** hub: the last counter accepted; member: the last counter sent (decimal, 64 bits). */
  counter: string;
  /** hub: hellos accepted; member: hellos sent. */
  hellos: number;
  helloInterval: number;
  bindingTimeout: number;
  /** member: round trip of the last acknowledged hello. */
  rttMs: number | null;
}

/** A wall-clock time in ms as status shows it, or null. */
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
