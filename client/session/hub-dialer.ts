import { TunnelError } from '../../shared/errors.js';
import { JOIN_HEADERS, PATH_LIVENESS } from '../../shared/protocol/index.js';
import type { ClientIdentity } from '../identity.js';
import { signClientToken } from '../identity-token.js';
import type { ClientChannel, ClientChannelEvents } from './client-channel.js';
import type { HubUrl } from './hub-url.js';
import { openSshChannel } from './ssh-channel.js';
import { openWsChannel } from './ws-channel.js';

/** A hub-issued credential used once, on the first connection of a join. */
export type JoinCredential =
  | { kind: 'invite'; token: string; name: string }
  | { kind: 'peer-token'; token: string };

/** What the dialer needs to open each connection. */
export interface DialerOptions {
  /** The hub to dial now (a member of a cluster may move to another). */
  url: () => HubUrl;
  identity: ClientIdentity;
  /** The peer name (known after the join; for an invite it is the name asked for). */
  peer: () => string | undefined;
  /** The hub id pinned so far (client-token audience; SSH host key fingerprint). */
  hubId: () => string | undefined;
  /** The credential of a join, spent by the first connection that gets through. */
  join?: JoinCredential;
  /** Extra CA certificate for wss://. */
  ca?: Buffer;
  /** Offer path-proven liveness on WebSocket connections (the member's datapath can tell its hub tunnel's liveness). */
  offerPathLiveness?: boolean;
  /** Called after each connection is up, with the hub id it announced (to pin it). */
  connected(channel: ClientChannel): void;
}

/**
 * Opens connections to the hub with the right credential each time: the join credential until
 * one connection got through (an invite is single-use), then a fresh token signed with the
 * member's own key (WebSocket) or the member's key itself (SSH). `address`, when given, is
 * another address of the same hub to connect to (its IPv6 endpoint) with the URL's scheme and
 * port; TLS still checks the certificate against the URL's host name, and the hub id pinned at
 * join is checked either way.
 */
export function createHubDialer(options: DialerOptions): (events: ClientChannelEvents, address?: string) => Promise<ClientChannel> {
  let join = options.join;
  return async (events, address) => {
    let channel: ClientChannel;
    const url = options.url();
    if (url.scheme === 'ssh') {
      const hostKey = options.hubId();
      channel = await openSshChannel({
        host: address ?? url.host,
        port: url.port,
        username: url.user ?? '',
        privateKey: Buffer.from(options.identity.privateKeyText),
        ...(hostKey !== undefined ? { hostKeyFingerprint: hostKey } : {}),
      }, events);
    } else {
      const href = address === undefined ? url.href : `${url.scheme}://${hostPart(address)}:${url.port}${new URL(url.href).pathname.replace(/^\/$/, '')}`;
      channel = await openWsChannel({
        url: href, ...(options.ca ? { ca: options.ca } : {}), ...(address !== undefined ? { servername: url.host } : {}),
      }, {
        ...await wsHeaders(join, options),
        ...(options.offerPathLiveness === true ? { [PATH_LIVENESS.header]: PATH_LIVENESS.value } : {}),
      }, events);
    }
    join = undefined;
    options.connected(channel);
    return channel;
  };
}

/** An address as the host part of a URL (IPv6 in brackets). */
function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

async function wsHeaders(join: JoinCredential | undefined, options: DialerOptions): Promise<Record<string, string>> {
  if (join) {
    return {
      authorization: `Bearer ${join.token}`,
      [JOIN_HEADERS.key]: options.identity.publicKeyLine,
      ...(join.kind === 'invite' ? { [JOIN_HEADERS.name]: join.name } : {}),
    };
  }
  const peer = options.peer();
  const hubId = options.hubId();
  if (peer === undefined || hubId === undefined) {
    throw new TunnelError('ERR_STATE', 'this member has not completed a join (no peer name or hub id recorded); join again');
  }
  return { authorization: `Bearer ${await signClientToken(options.identity, peer, hubId)}` };
}
