import { channel } from 'node:diagnostics_channel';

/**
 * Why a hub-role tunnel's binding changed: `bound` (first verified hello), `moved` (a verified
 * hello from a new address:port, e.g. the NAT re-mapped), `expired` (no valid hello for
 * bindingTimeout), `displaced` (another tunnel's verified hello took the address:port, so this one
 * was stale), `reset` (the tunnel's socket or encapsulation changed, which a NAT maps anew).
 */
export type BindingChangeReason = 'bound' | 'moved' | 'expired' | 'displaced' | 'reset';

/** A binding change, as published on the `tunnel:datapath:binding` diagnostics channel. */
export interface BindingEvent {
  name: string;
  /** The address:port now bound (bound, moved) or just given up (expired, displaced, reset). */
  address: string;
  port: number;
  reason: BindingChangeReason;
  /** For `moved`: where the binding was before. */
  previous?: { address: string; port: number };
}

/** Diagnostics channel carrying every BindingEvent. */
export const bindingChannel = channel('tunnel:datapath:binding');
