import type { TunnelError } from '../../shared/errors.js';

/**
 * What a front door (WebSocket or SSH channel) gives the session handler: a way to send one
 * encoded message and to end the connection. Incoming messages are pushed by the front door
 * into `ControlSession.receive`, so both transports reach the same code.
 */
export interface SessionTransport {
  /** Which front door the session came through, for status and logs. */
  readonly kind: 'ws' | 'ssh';
  /** The connection is itself encrypted (wss://, SSH): only then may ESP keys travel on it. */
  readonly encrypted: boolean;
  /** The IPv4 or IPv6 address the connection comes from: the only address the hub treats as verified. */
  readonly remoteAddress: string;
  /** The member offered path-proven liveness and the front door accepted it (shared/protocol/path-liveness.ts). */
  readonly pathLiveness?: boolean;
  /** Sends one encoded message; silently dropped once the transport is closed. */
  send(text: string): void;
  /** Sends encoded messages in order in one write (one syscall, one TCP segment where they fit); dropped once closed. */
  sendTogether(texts: readonly string[]): void;
  /** Ends the connection; with an error, the peer learns its code (close code / exit status). */
  close(error?: TunnelError): void;
}
