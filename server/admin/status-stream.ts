import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { diffStatusViews } from './status-delta.js';
import { packStatusView } from './status-snapshot.js';
import type { StatusView } from './status-view.js';

/** How often viewers get a fresh sample without a change (traffic rates move all the time). */
const INTERVAL_MS = 1000;
/** Changes coming together (a member joining: session, then reconfiguration) make one update. */
const NUDGE_DELAY_MS = 50;
/**
 * A viewer whose connection has this much unsent, beyond the snapshot it started with, is too
 * slow; it is dropped, not buffered for (it reconnects and resumes, or starts again).
 */
const MAX_BUFFERED_BYTES = 1 << 20;
/** Deltas kept for a viewer that reconnects: a minute at one per second. */
const HISTORY = 60;

/**
 * The live page's event stream (server-sent events). A viewer gets the current view whole
 * (`event: snapshot`, packed: `packStatusView`), then once a second, and at once after a
 * change (`nudge`), what changed (`event: delta`, `diffStatusViews`, naming the frame it follows
 * as `base`). Every frame has an id (`STREAM-SEQ`); a viewer that reconnects with `Last-Event-ID`
 * gets the deltas it missed if they are still kept, else a new snapshot. One sample is shared by
 * every viewer, and samples are taken only while somebody watches.
 */
export class StatusStream {
  /** Viewers getting deltas, each with the size of the snapshot it started with. */
  private readonly viewers = new Map<ServerResponse, number>();
  /** Viewers waiting for the first sample since nobody watched, with the id they last saw. */
  private readonly waiting = new Map<ServerResponse, string | undefined>();
  /** Tells this stream's ids from another's (a hub restarted): a resume needs the same one. */
  private readonly stream = randomBytes(6).toString('base64url');
  private current: { view: StatusView; seq: number } | undefined;
  private snapshot: { seq: number; frame: string } | undefined;
  private readonly history: { seq: number; frame: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private nudged: NodeJS.Timeout | undefined;
  private sending = false;

  constructor(private readonly view: () => Promise<StatusView>, private readonly log: Logger) {}

  /** Streams to `response` until its connection closes; `lastEventId` is the id it saw last, if any. */
  add(response: ServerResponse, lastEventId?: string): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    response.write('retry: 2000\n\n');
    response.on('close', () => {
      this.viewers.delete(response);
      this.waiting.delete(response);
      if (this.viewers.size === 0 && this.waiting.size === 0) this.stop();
    });
    if (this.timer && this.current) {
      this.start(response, lastEventId);
      return;
    }
    // Nobody watched (or the first sample is under way): the viewer waits for a fresh sample.
    this.waiting.set(response, lastEventId);
    this.timer ??= setInterval(() => void this.send(), INTERVAL_MS);
    void this.send();
  }

  /** Something changed: viewers get a sample now rather than within the second. */
  nudge(): void {
    if (this.viewers.size === 0 || this.nudged) return;
    this.nudged = setTimeout(() => {
      this.nudged = undefined;
      void this.send();
    }, NUDGE_DELAY_MS);
  }

  /** Ends every stream. */
  close(): void {
    for (const viewer of [...this.viewers.keys(), ...this.waiting.keys()]) viewer.end();
    this.viewers.clear();
    this.waiting.clear();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.nudged);
    this.timer = undefined;
    this.nudged = undefined;
  }

  private id(seq: number): string {
    return `${this.stream}-${seq}`;
  }

  /** Brings a viewer to the current view: the deltas after `lastEventId` when kept, else a snapshot. */
  private start(viewer: ServerResponse, lastEventId: string | undefined): void {
    const current = this.current;
    if (!current) return;
    const prefix = `${this.stream}-`;
    const seen = lastEventId?.startsWith(prefix) ? Number(lastEventId.slice(prefix.length)) : NaN;
    const oldest = this.history[0]?.seq ?? current.seq + 1;
    if (Number.isInteger(seen) && seen >= oldest - 1 && seen <= current.seq) {
      for (const entry of this.history) if (entry.seq > seen) viewer.write(entry.frame);
      this.viewers.set(viewer, 0);
      return;
    }
    if (this.snapshot?.seq !== current.seq) {
      this.snapshot = { seq: current.seq, frame: `id: ${this.id(current.seq)}\nevent: snapshot\ndata: ${JSON.stringify(packStatusView(current.view))}\n\n` };
    }
    viewer.write(this.snapshot.frame);
    this.viewers.set(viewer, this.snapshot.frame.length);
  }

  private async send(): Promise<void> {
    if (this.sending || (this.viewers.size === 0 && this.waiting.size === 0)) return;
    this.sending = true;
    try {
      const view = await this.view();
      const before = this.current;
      if (before) {
        const seq = before.seq + 1;
        const frame = `id: ${this.id(seq)}\nevent: delta\ndata: ${JSON.stringify({ base: this.id(before.seq), ...diffStatusViews(before.view, view) })}\n\n`;
        this.history.push({ seq, frame });
        if (this.history.length > HISTORY) this.history.shift();
        this.current = { view, seq };
        for (const [viewer, snapshotBytes] of this.viewers) {
          if (viewer.writableLength > MAX_BUFFERED_BYTES + snapshotBytes) viewer.destroy();
          else viewer.write(frame);
        }
      } else {
        this.current = { view, seq: 0 };
      }
      for (const [viewer, lastEventId] of this.waiting) this.start(viewer, lastEventId);
      this.waiting.clear();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'status page sample failed');
    } finally {
      this.sending = false;
    }
  }
}
