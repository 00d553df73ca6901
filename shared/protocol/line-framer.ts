import { TunnelError } from '../errors.js';
import { MAX_MESSAGE_BYTES } from './version.js';

/**
 * Splits a byte stream (the SSH channel) into newline-delimited messages. A line longer than
 * MAX_MESSAGE_BYTES is refused as soon as it is seen, before it is buffered whole.
 */
export class LineFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Feeds bytes; returns the complete lines (without '\n'), throws ERR_MESSAGE_TOO_LARGE on an overlong one. */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      this.guard(piece.length);
      lines.push(this.pendingBytes === 0 ? piece : Buffer.concat([...this.pending, piece]));
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.guard(rest.length);
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
    return lines.filter((line) => line.length > 0);
  }

  private guard(extra: number): void {
    if (this.pendingBytes + extra > MAX_MESSAGE_BYTES) {
      throw new TunnelError('ERR_MESSAGE_TOO_LARGE', `line exceeds ${MAX_MESSAGE_BYTES} bytes`);
    }
  }
}
