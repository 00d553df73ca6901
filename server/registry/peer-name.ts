import { TunnelError } from '../../shared/errors.js';
import { HUB_END_NAME, PEER_NAME_PATTERN } from '../../shared/protocol/peer-name.js';

export { HUB_END_NAME };

/** Returns `name` when it is a valid peer name, else throws ERR_INVALID_ARGUMENT saying why. */
export function validatePeerName(name: string): string {
  if (name === HUB_END_NAME) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `"${HUB_END_NAME}" is reserved for the hub's own end; choose another peer name`);
  }
  if (!PEER_NAME_PATTERN.test(name)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `invalid peer name "${name}": use 1-31 lowercase letters, digits or '-', starting with a letter or digit`);
  }
  return name;
}
