import { TunnelError } from '../../shared/errors.js';

/** The name the hub goes by as a link end; no peer may take it. */
export const HUB_END_NAME = 'hub';

// Lowercase only, so "Alice" and "alice" can never be two peers; short enough for SSH user names.
const PEER_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** Returns `name` when it is a valid peer name, else throws ERR_INVALID_ARGUMENT saying why. */
export function validatePeerName(name: string): string {
  if (name === HUB_END_NAME) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `"${HUB_END_NAME}" is reserved for the hub's own end; choose another peer name`);
  }
  if (!PEER_NAME.test(name)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `invalid peer name "${name}": use 1-31 lowercase letters, digits or '-', starting with a letter or digit`);
  }
  return name;
}
