import { TunnelError } from '../shared/errors.js';
import { HUB_END_NAME, MAX_PEER_NAME_LENGTH, PEER_NAME_PATTERN } from '../shared/protocol/peer-name.js';

/**
 * The peer name `join` asks for when given no `--name`: the host name, lower-cased, accents
 * dropped, every run of other characters (dots, underscores, spaces…) made one '-' (a '-' stays), trimmed of
 * '-' at both ends and cut to 31 characters. "Alice's Box.lan" → "alice-s-box-lan".
 * ERR_INVALID_ARGUMENT when nothing usable is left, or the result is the hub's reserved name.
 */
export function peerNameFromHostName(hostName: string): string {
  const name = hostName
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_PEER_NAME_LENGTH)
    .replace(/-+$/, '');
  const shown = JSON.stringify(hostName.slice(0, 64));
  if (!PEER_NAME_PATTERN.test(name)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `the host name ${shown} gives no usable peer name; pass --name NAME`);
  }
  if (name === HUB_END_NAME) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `the host name ${shown} gives "${HUB_END_NAME}", which is reserved for the hub; pass --name NAME`);
  }
  return name;
}
