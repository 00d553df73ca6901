import type { TunnelError } from '../../shared/errors.js';

/** What the client's session needs from a connected transport (WebSocket or SSH channel). */
export interface ClientChannel {
  /** The local address of the control connection: the outer address the hub sees (without NAT). */
  readonly localAddress: string | null;
  /** The hub's id (its SSH host key fingerprint), as the hub announced it on this connection. */
  readonly hubId: string | null;
  /** The hub accepted path-proven liveness on this connection (shared/protocol/path-liveness.ts); absent: no. */
  readonly pathLiveness?: boolean;
  /** Sends one encoded message. */
  send(text: string): void;
  /** Ends the connection. */
  close(): void;
}

/** Callbacks a transport calls; `closed` comes exactly once. */
export interface ClientChannelEvents {
  message(raw: Buffer): void;
  /** The connection ended; `error` says why when the hub or the transport gave a reason. */
  closed(error: TunnelError | undefined): void;
}
