/** How a connection proved who it is. */
export type AuthMethod = 'invite' | 'peer-token' | 'client-key' | 'ssh-key';

/** The outcome of a front door's authentication: the peer a session speaks for. */
export interface AuthenticatedPeer {
  readonly name: string;
  readonly method: AuthMethod;
}
