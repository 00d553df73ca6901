import { z } from 'zod';
import { TunnelError } from '../../shared/errors.js';
import { parseFilterText, parsePeerState } from './peer-filter.js';
import type { StatusRequest } from './status-request.js';

const requestSchema = z.strictObject({
  view: z.enum(['status', 'sessions', 'shortcuts']),
  state: z.string().optional(),
  filter: z.string().optional(),
});

/** Parses one request line of the status socket; anything else than `encodeStatusRequest` wrote is ERR_INVALID_ARGUMENT. */
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
