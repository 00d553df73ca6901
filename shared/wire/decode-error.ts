/** Why a decoder refused a packet; the engine counts drops by this reason. */
export type DecodeErrorReason =
  | 'truncated'
  | 'bad-version'
  | 'bad-header-length'
  | 'bad-total-length'
  | 'bad-checksum'
  | 'reserved-bits'
  | 'unsupported-protocol'
  | 'fragmented'
  | 'bad-flags'
  | 'not-keepalive'
  | 'not-hello';

/** Every reason a decoder may return, for counters and for tests that check the set is closed. */
export const DECODE_ERROR_REASONS: readonly DecodeErrorReason[] = [
  'truncated',
  'bad-version',
  'bad-header-length',
  'bad-total-length',
  'bad-checksum',
  'reserved-bits',
  'unsupported-protocol',
  'fragmented',
  'bad-flags',
  'not-keepalive',
  'not-hello',
];

/** A decoder's refusal: a typed reason instead of an exception, so bad packets cost no throw. */
export interface DecodeError {
  ok: false;
  reason: DecodeErrorReason;
  detail?: string;
}

// One frozen instance per reason: a flood of garbage packets allocates nothing.
const SHARED_ERRORS = new Map<DecodeErrorReason, DecodeError>(
  DECODE_ERROR_REASONS.map((reason) => [reason, Object.freeze({ ok: false as const, reason })]),
);

/** Makes a DecodeError; without `detail` it returns a shared frozen instance (no allocation). */
export function decodeError(reason: DecodeErrorReason, detail?: string): DecodeError {
  if (detail === undefined) return SHARED_ERRORS.get(reason)!;
  return { ok: false, reason, detail };
}

/** True when [offset, offset+length) is not a well-formed window of `buf` (bad caller arguments). */
export function isBadWindow(buf: Uint8Array, offset: number, length: number): boolean {
  return !(offset >= 0 && length >= 0 && offset + length <= buf.length) || (offset | 0) !== offset || (length | 0) !== length;
}
