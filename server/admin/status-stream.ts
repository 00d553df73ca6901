import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { StatusView } from './status-view.js';

/** How often viewers get a fresh sample without a change (traffic rates move all the time). */
const INTERVAL_MS = 1000;
/** Changes coming together (a member joining: session, then reconfiguration) make one update. */
const NUDGE_DELAY_MS = 50;
/** A viewer whose connection has this much unsent is too slow; it is dropped, not buffered for. */
const MAX_BUFFERED_BYTES = 1 << 20;

/**
 * The live page's event stream (server-sent events): one status sample per second, and one at
 * once after a change (`nudge`), shared by every viewer. Samples are taken only while somebody
 * watches, so an unwatched hub does no work for the page.
 */
export class StatusStream {
  private readonly viewers = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private nudged: NodeJS.Timeout | undefined;
  private sending = false;

  constructor(private readonly view: () => Promise<StatusView>, private readonly log: Logger) {}

  /** Streams to `response` until its connection closes. */
  add(response: ServerResponse): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    response.write('retry: 2000\n\n');
    this.viewers.add(response);
    response.on('close', () => {
      this.viewers.delete(response);
      if (this.viewers.size === 0) this.stop();
    });
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
    for (const viewer of this.viewers) viewer.end();
    this.viewers.clear();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.nudged);
    this.timer = undefined;
    this.nudged = undefined;
  }

  private async send(): Promise<void> {
    if (this.sending || this.viewers.size === 0) return;
    this.sending = true;
    try {
      const frame = `data: ${JSON.stringify(await this.view())}\n\n`;
      for (const viewer of this.viewers) {
        if (viewer.writableLength > MAX_BUFFERED_BYTES) viewer.destroy();
        else viewer.write(frame);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'status page sample failed');
    } finally {
      this.sending = false;
    }
  }
}
