import { TunnelError } from '../../shared/errors.js';

/**
 * Where a link is in a make-before-break rekey:
 * - `steady`: both ends seal and open with the current epoch;
 * - `installing`: both ends also open the next epoch, and still seal with the current one (the
 *   rekey waits until every end has acknowledged that);
 * - `switching`: both ends seal with the next epoch and still open the current one (the rekey
 *   waits for the acknowledgements again);
 * - `draining`: as `switching`, for a grace period, so packets sealed just before an end switched
 *   still open; then the next epoch becomes the current one.
 */
export type RekeyPhase = 'steady' | 'installing' | 'switching' | 'draining';

/** A link's epochs and phase. `next` is set in every phase but `steady`. */
export interface LinkRekeyState {
  readonly current: number;
  readonly next: number | null;
  readonly phase: RekeyPhase;
}

/** What moves a link's state along. */
export type RekeyEvent =
  /** A new epoch was made for a rekey (interval, sequence numbers running out, the operator). */
  | { type: 'begin'; epoch: number }
  /** Every end acknowledged the SAs of the present phase (installing or switching). */
  | { type: 'acked' }
  /** The grace period of the old inbound SA is over. */
  | { type: 'grace-over' }
  /**
   * An end starts afresh (a new session, the hub's end on a new process): it holds no SAs, so the
   * link jumps to a new epoch at once. Nothing sealed under an older epoch by that end can come
   * again, and a new engine never sends under a key an earlier one used.
   */
  | { type: 'restart'; epoch: number };

/** The state of a link whose first epoch was just made. */
export function initialRekeyState(epoch: number): LinkRekeyState {
  return { current: epoch, next: null, phase: 'steady' };
}

/**
 * The next state (pure). A `begin` during a rekey is refused with ERR_STATE (one rekey at a
 * time: the caller asks again once this one finished); an `acked` or `grace-over` that does not
 * fit the phase changes nothing (a late acknowledgement of an earlier phase); a `restart` always
 * wins. Epochs only grow: a `begin` or `restart` with an epoch not above the newest one known is
 * refused.
 */
export function nextRekeyState(state: LinkRekeyState, event: RekeyEvent): LinkRekeyState {
  switch (event.type) {
    case 'begin':
      if (state.phase !== 'steady') throw new TunnelError('ERR_STATE', `a rekey to epoch ${String(state.next)} is still ${state.phase}`);
      requireNewer(state, event.epoch);
      return { current: state.current, next: event.epoch, phase: 'installing' };
    case 'acked':
      if (state.phase === 'installing') return { ...state, phase: 'switching' };
      if (state.phase === 'switching') return { ...state, phase: 'draining' };
      return state;
    case 'grace-over':
      if (state.phase !== 'draining' || state.next === null) return state;
      return { current: state.next, next: null, phase: 'steady' };
    case 'restart':
      requireNewer(state, event.epoch);
      return initialRekeyState(event.epoch);
    default:
      throw new TunnelError('ERR_INTERNAL', `unknown rekey event ${JSON.stringify(event)}`);
  }
}

/** The epochs one end runs in a state: the one it seals with and those it opens, newest first. */
export interface EndEpochs {
  outbound: number;
  inbound: number[];
}

/** What every end of a link runs in `state` (both ends run the same epochs; each its own direction of them). */
export function epochsOf(state: LinkRekeyState): EndEpochs {
  if (state.phase === 'steady' || state.next === null) return { outbound: state.current, inbound: [state.current] };
  if (state.phase === 'installing') return { outbound: state.current, inbound: [state.next, state.current] };
  return { outbound: state.next, inbound: [state.next, state.current] };
}

/** The newest epoch the state knows. */
export function newestEpoch(state: LinkRekeyState): number {
  return state.next ?? state.current;
}

function requireNewer(state: LinkRekeyState, epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch <= newestEpoch(state)) {
    throw new TunnelError('ERR_STATE', `epoch ${String(epoch)} is not newer than ${newestEpoch(state)}`);
  }
}
