import type { TunnelError } from '../../shared/errors.js';
import type { SessionTransport } from '../../server/control/session-transport.js';

/** A message the hub sent, decoded. */
export type SentMessage = { type: string } & Record<string, unknown>;

/** A SessionTransport for unit tests: keeps every message the hub sends and how the connection ended. */
export class FakeSessionTransport implements SessionTransport {
  /** Every message sent, decoded, in order (those sent after close too: a session must send none). */
  readonly sent: SentMessage[] = [];
  /** Undefined while open; the error it was closed with (null: closed without one). */
  closedWith: TunnelError | null | undefined = undefined;

  /** `encrypted`: the connection is wss:// or SSH (false: plain ws://). */
  constructor(readonly remoteAddress: string, readonly kind: 'ws' | 'ssh' = 'ws', readonly encrypted = true) {}

  /** How many messages left in each write, in order. */
  readonly writes: number[] = [];

  send(text: string): void {
    this.sendTogether([text]);
  }

  sendTogether(texts: readonly string[]): void {
    for (const text of texts) this.sent.push(JSON.parse(text) as SentMessage);
    this.writes.push(texts.length);
  }

  close(error?: TunnelError): void {
    this.closedWith ??= error ?? null;
  }

  /** The messages of one type, in order. */
  messages(type: string): SentMessage[] {
    return this.sent.filter((message) => message.type === type);
  }
}
