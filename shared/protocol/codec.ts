import { TunnelError } from '../errors.js';
import { controlMessageSchema, type ControlMessage, type OutgoingMessage } from './messages.js';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from './version.js';

/**
 * Parses and validates one control message off the wire. Refuses, with a coded TunnelError,
 * anything oversized (ERR_MESSAGE_TOO_LARGE), not JSON or not matching the schema (ERR_PROTOCOL),
 * or of another protocol version (ERR_UNSUPPORTED_VERSION).
 */
export function decodeMessage(raw: string | Buffer): ControlMessage {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > MAX_MESSAGE_BYTES) {
    throw new TunnelError('ERR_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    throw new TunnelError('ERR_PROTOCOL', 'message is not valid JSON');
  }
  // Check the version before the schema, so an old or new peer gets the precise refusal.
  if (typeof value === 'object' && value !== null && 'v' in value && value.v !== PROTOCOL_VERSION) {
    throw new TunnelError('ERR_UNSUPPORTED_VERSION', `protocol version ${String(value.v)} is not supported (this side speaks ${PROTOCOL_VERSION})`);
  }
  const parsed = controlMessageSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new TunnelError('ERR_PROTOCOL', `invalid message${where}: ${issue?.message ?? 'schema mismatch'}`);
  }
  return parsed.data;
}

/** A keepalive as encodeMessage writes it: the one message a session gets every interval. */
const KEEPALIVE_TEXT = JSON.stringify({ v: PROTOCOL_VERSION, type: 'keepalive' });
const KEEPALIVE_BYTES = Buffer.from(KEEPALIVE_TEXT);

/**
 * True when `raw` is a keepalive byte for byte as encodeMessage writes it, which decodeMessage
 * would read as `{ type: 'keepalive' }`: the receiver skips parsing and validating the message
 * it gets most often. Anything else, a keepalive spelt another way too, goes through decodeMessage.
 */
export function isEncodedKeepalive(raw: string | Buffer): boolean {
  return typeof raw === 'string' ? raw === KEEPALIVE_TEXT : raw.length === KEEPALIVE_BYTES.length && raw.equals(KEEPALIVE_BYTES);
}

/** Serializes a message, stamping the protocol version; refuses one that would exceed the size limit. */
export function encodeMessage(message: OutgoingMessage): string {
  const text = JSON.stringify({ v: PROTOCOL_VERSION, ...message });
  if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) {
    throw new TunnelError('ERR_MESSAGE_TOO_LARGE', `outgoing ${message.type} message exceeds ${MAX_MESSAGE_BYTES} bytes`);
  }
  return text;
}
