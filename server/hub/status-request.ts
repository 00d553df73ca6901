import { z } from 'zod';
import { TunnelError } from '../../shared/errors.js';
import { parseFilterText, parsePeerState, type PeerFilter } from './peer-filter.js';

/**
 * What a client asks the status socket for: `status`, the whole report with only the peers that
 * pass `filter`; or `sessions`, the names of the peers with a control session open (what
 * `peer list` needs, without the rest of the report); or `shortcuts`, the live rate of each
 * shortcut the hub keeps (what `link list` adds to the registry's links).
 */
export type StatusRequest = { readonly view: 'status'; readonly filter: PeerFilter } | { readonly view: 'sessions' } | { readonly view: 'shortcuts' };

/** The request of a client that sends none (the socket's first protocol): the whole status. */
export const WHOLE_STATUS: StatusRequest = { view: 'status', filter: {} };

const requestSchema = z.strictObject({
  view: z.enum(['status', 'sessions', 'shortcuts']),
  state: z.string().optional(),
  filter: z.string().optional(),
});

/** The request's one line as the client writes it. */
export function encodeStatusRequest(request: StatusRequest): string {
  return `${JSON.stringify(request.view !== 'status' ? request : { view: 'status', state: request.filter.state, filter: request.filter.text })}\n`;
}

/** Parses one request line; anything else than {@link encodeStatusRequest} wrote is ERR_INVALID_ARGUMENT. */
export function decodeStatusRequest(line: string): StatusRequest {
  let parsed: z.infer<typeof requestSchema>;
  try {
    parsed = requestSchema.parse(JSON.parse(line));
  } catch {
    throw new TunnelError('ERR_INVALID_ARGUMENT', 'the status request is not {"view":"status"|"sessions"|"shortcuts"[,"state":…][,"filter":…]}');
  }
  if (parsed.view !== 'status') return { view: parsed.view };
  return {
    view: 'status',
    filter: {
      ...(parsed.state === undefined ? {} : { state: parsePeerState(parsed.state, 'state') }),
      ...(parsed.filter === undefined ? {} : { text: parseFilterText(parsed.filter, 'filter') }),
    },
  };
}
