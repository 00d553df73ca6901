import type { PeerFilter } from './peer-filter.js';

/**
 * What a client asks the status socket for: `status`, the whole report with only the peers that
 * pass `filter`; or `sessions`, the names of the peers with a control session open (what
 * `peer list` needs, without the rest of the report); or `shortcuts`, the live rate of each
 * shortcut the hub keeps (what `link list` adds to the registry's links).
 */
export type StatusRequest = { readonly view: 'status'; readonly filter: PeerFilter } | { readonly view: 'sessions' } | { readonly view: 'shortcuts' };

/** The request of a client that sends none (the socket's first protocol): the whole status. */
export const WHOLE_STATUS: StatusRequest = { view: 'status', filter: {} };

/** The request's one line as the client writes it. */
export function encodeStatusRequest(request: StatusRequest): string {
  return `${JSON.stringify(request.view !== 'status' ? request : { view: 'status', state: request.filter.state, filter: request.filter.text })}\n`;
}
