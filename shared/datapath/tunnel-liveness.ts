import { channel } from 'node:diagnostics_channel';

/** Whether the far end has been heard from recently. */
export type LivenessState = 'up' | 'down';

/** A liveness change, as published on the `tunnel:datapath:liveness` diagnostics channel. */
export interface LivenessEvent {
  name: string;
  state: LivenessState;
  /** Keepalive intervals in a row with nothing heard. */
  missed: number;
}

/** Diagnostics channel carrying every LivenessEvent. */
export const livenessChannel = channel('tunnel:datapath:liveness');

/**
 * Liveness of one tunnel: down until anything valid arrives from the remote, up from then on,
 * down again after `retries` keepalive intervals in a row with nothing heard. Time enters only
 * through tick(), once per keepalive interval, so the packet path just sets a flag.
 *
 * tick() also says whether to send this interval's keepalive. A passive end skips it when the
 * remote spoke unasked in the interval just ended (its own keepalive, or data): a hub need not
 * probe members that probe it. An interval left unprobed that heard nothing is probed before any
 * miss counts, so passivity costs at most one interval's delay in declaring a dead path down; it
 * reads as `quiet` at once.
 */
export class TunnelLiveness {
  state: LivenessState = 'down';
  missed = 0;
  /** Set by the receive path whenever a valid packet from the remote arrives. */
  heard = false;
  /** Set with `heard` when the packet was not the answer to a keepalive of ours (markHeardUnasked). */
  heardUnasked = false;
  /** Whether the interval running now began with a keepalive of ours. */
  #probed = true;
  /** True when the last tick found nothing heard, whether or not it counted a miss. */
  quiet = false;
  /** Wall-clock time (ms) of the last tick that found the tunnel heard, or null if never. */
  lastHeardAt: number | null = null;

  constructor(
    private readonly name: string,
    public retries: number,
    private readonly onChange: (event: LivenessEvent) => void,
  ) {}

  /** Called by the receive path: any valid packet proves the remote alive at once. */
  markHeard(): void {
    this.heard = true;
    if (this.state === 'down') {
      this.missed = 0;
      this.lastHeardAt = Date.now();
      this.change('up');
    }
  }

  /** Called by the receive path for what the remote sent on its own: its keepalive, data. */
  markHeardUnasked(): void {
    this.heardUnasked = true;
    this.markHeard();
  }

  /** The path is known to be gone (a hub's binding expired): down now, not after more misses. */
  markLost(): void {
    this.heard = false;
    this.heardUnasked = false;
    if (this.state === 'up') this.change('down');
  }

  /** Keepalives are off (interval 0, ipip): the tunnel reads as up, with no event. */
  assumeUp(): void {
    this.state = 'up';
    this.missed = 0;
  }

  /** Called once per keepalive interval; true when a keepalive should go now (always, unless `passive`). */
  tick(passive = false): boolean {
    const unasked = this.heardUnasked;
    this.heardUnasked = false;
    if (this.heard) {
      this.heard = false;
      this.quiet = false;
      this.missed = 0;
      this.lastHeardAt = Date.now();
      this.#probed = !(passive && unasked);
      return this.#probed;
    }
    const probed = this.#probed;
    this.#probed = true;
    this.quiet = true;
    // Silence after an interval we did not probe is no miss yet: probe first.
    if (!probed) return true;
    this.missed++;
    if (this.state === 'up' && this.missed >= this.retries) this.change('down');
    return true;
  }

  private change(state: LivenessState): void {
    this.state = state;
    const event: LivenessEvent = { name: this.name, state, missed: this.missed };
    if (livenessChannel.hasSubscribers) livenessChannel.publish(event);
    this.onChange(event);
  }
}
