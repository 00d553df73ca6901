import { TunnelError } from '../../shared/errors.js';
import { canonicalPrefix } from '../../shared/net/ip-prefix.js';
import { MAX_ADVERTISED } from '../../shared/protocol/route-limits.js';

/** Commander's collector for the repeatable `--advertise CIDR`: each prefix checked and made canonical. */
export function collectAdvertised(text: string, previous: string[] = []): string[] {
  const prefix = canonicalPrefix(text);
  if (previous.length >= MAX_ADVERTISED) throw new TunnelError('ERR_INVALID_ARGUMENT', `--advertise: at most ${MAX_ADVERTISED} prefixes`);
  return previous.includes(prefix) ? previous : [...previous, prefix];
}
