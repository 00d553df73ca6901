import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyStatusDelta, type StatusViewDelta } from '../../server/admin/status-delta.js';
import { unpackStatusView, type PackedStatusView } from '../../server/admin/status-snapshot.js';
import { StatusStream } from '../../server/admin/status-stream.js';
import { compareViewPeers, type StatusView, type StatusViewPeer } from '../../server/admin/status-view.js';
import { waitUntil } from '../helpers/wait-until.js';
import { testLogger } from '../helpers/with-hub.js';

interface Frame {
  id: string;
  event: string;
  data: string;
}

/** A viewer of the stream over real HTTP, as an EventSource reads it: frames in order, parsed. */
class Viewer {
  readonly frames: Frame[] = [];
  private buffer = '';
  private res: IncomingMessage | undefined;
  private readonly req;
  closed = false;

  constructor(port: number, lastEventId?: string) {
    this.req = request({ host: '127.0.0.1', port, path: '/events', headers: lastEventId ? { 'last-event-id': lastEventId } : {} }, (res) => {
      this.res = res;
      res.setEncoding('utf8').on('data', (chunk: string) => {
        this.buffer += chunk;
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          const field = (name: string): string => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2) ?? '';
          if (field('data') !== '') this.frames.push({ id: field('id'), event: field('event'), data: field('data') });
        }
      });
      res.on('close', () => (this.closed = true));
    });
    this.req.on('error', () => (this.closed = true));
    this.req.end();
  }

  /** Waits until `count` frames have come. */
  async next(count = this.frames.length + 1): Promise<Frame[]> {
    await waitUntil(() => this.frames.length >= count, 10_000, () => `${count} frames (have ${this.frames.length})`);
    return this.frames;
  }

  /** The view as the page keeps it from this viewer's frames. */
  view(): StatusView | undefined {
    return replay(this.frames);
  }

  close(): void {
    this.req.destroy();
  }

  pause(): void {
    this.res?.pause();
  }
}

/** The view as the page keeps it: the last snapshot with every delta after it applied in order. */
function replay(frames: Frame[]): StatusView | undefined {
  let view: StatusView | undefined;
  let last = '';
  for (const frame of frames) {
    if (frame.event === 'snapshot') view = unpackStatusView(JSON.parse(frame.data) as PackedStatusView);
    else if (view) {
      const delta = JSON.parse(frame.data) as StatusViewDelta & { base: string };
      expect(delta.base).toBe(last);
      view = applyStatusDelta(view, delta);
    }
    last = frame.id;
  }
  return view;
}

function peer(name: string, extra: Partial<StatusViewPeer> = {}): StatusViewPeer {
  return {
    name, state: 'up', transport: 'ws', router: false, seen: '203.0.113.10', reported: '203.0.113.10', nat: false, encap: 'gre',
    encapReason: 'public', prefix: '10.1.12.0/30', inner: '10.1.12.2', routes: [], lastSeen: null, since: null, hub: null,
    rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, dropped: 0, software: 'tunnel-client/1.2.3', encryption: null, direct: [], ...extra,
  };
}

describe('the status page\'s event stream: a snapshot, then deltas', () => {
  let server: Server;
  let port: number;
  let stream: StatusStream;
  let peers: StatusViewPeer[];
  let samples: number;
  const responses: ServerResponse[] = [];
  const viewers: Viewer[] = [];
  const hub: StatusView['hub'] = { endpoint: '198.51.100.1', hubId: null, wsPort: 8443, sshPort: 2222, version: '1.2.3' };
  const current = (): StatusView => ({ at: Date.now(), hub, peers: [...peers].sort(compareViewPeers) });
  const viewer = (lastEventId?: string): Viewer => {
    const v = new Viewer(port, lastEventId);
    viewers.push(v);
    return v;
  };

  beforeEach(async () => {
    peers = [peer('alice'), peer('bob')];
    samples = 0;
    stream = new StatusStream(async () => {
      samples += 1;
      return current();
    }, testLogger);
    server = createServer((req, res) => {
      responses.push(res);
      stream.add(res, typeof req.headers['last-event-id'] === 'string' ? req.headers['last-event-id'] : undefined);
    });
    port = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  });
  afterEach(async () => {
    for (const v of viewers.splice(0)) v.close();
    stream.close();
    responses.length = 0;
    await new Promise((resolve) => server.close(resolve));
  });

  it('starts each viewer with the whole view, then sends what changed, which the viewer applies in order', async () => {
    const first = viewer();
    const [snapshot] = await first.next(1);
    expect(snapshot?.event).toBe('snapshot');
    expect(unpackStatusView(JSON.parse(snapshot?.data ?? '') as PackedStatusView)).toMatchObject({ hub, peers: [peer('alice'), peer('bob')] });

    peers = [peer('alice', { rxBytes: 5_000, rxPackets: 4 }), peer('bob', { state: 'down' }), peer('carol')];
    stream.nudge();
    await waitUntil(() => first.view()?.peers.length === 3, 10_000, 'carol in the first viewer\'s view');
    const delta = first.frames.find((frame) => frame.event === 'delta' && frame.data.includes('carol'));
    expect(JSON.parse(delta?.data ?? '')).toMatchObject({ base: snapshot?.id, added: [peer('carol')], changed: [{ name: 'bob', state: 'down' }], traffic: [['alice', 5_000, 0, 4, 0]] });
    expect(first.view()?.peers).toEqual(current().peers);

    // A second viewer joins: the current view whole, then the same deltas as the first.
    const second = viewer();
    await second.next(1);
    expect(second.frames[0]?.event).toBe('snapshot');
    peers = peers.filter((p) => p.name !== 'alice');
    stream.nudge();
    await waitUntil(() => first.view()?.peers.length === 2 && second.view()?.peers.length === 2, 10_000, 'alice gone in both views');
    expect(second.view()?.peers).toEqual(current().peers);
    expect(first.view()?.peers).toEqual(current().peers);
  });

  it('resumes a viewer that reconnects with the deltas it missed, and starts one it cannot place with a snapshot', async () => {
    const keeper = viewer();
    const leaving = viewer();
    await leaving.next(1);
    await keeper.next(1);
    const lastSeen = leaving.frames.at(-1)?.id ?? '';
    leaving.close();
    peers = [...peers, peer('carol')];
    stream.nudge();
    await waitUntil(() => keeper.view()?.peers.length === 3, 10_000, 'carol');
    peers = [...peers, peer('dave')];
    stream.nudge();
    await waitUntil(() => keeper.view()?.peers.length === 4, 10_000, 'dave');

    const back = viewer(lastSeen);
    await waitUntil(() => back.frames.some((frame) => frame.data.includes('dave')), 10_000, 'the missed deltas');
    expect(back.frames.every((frame) => frame.event === 'delta')).toBe(true);
    expect(back.frames[0] && JSON.parse(back.frames[0].data).base).toBe(lastSeen);
    // Applied to what the viewer had before it left, the missed deltas give the current view.
    expect(replay([...leaving.frames, ...back.frames])?.peers).toEqual(current().peers);

    const [stranger] = await viewer('another-stream-3').next(1);
    expect(stranger?.event).toBe('snapshot');
    const [ahead] = await viewer(`${lastSeen.split('-')[0]}-999999`).next(1);
    expect(ahead?.event).toBe('snapshot');
  });

  it('drops a viewer that stops reading once over 1 MiB behind, keeps serving the others, and samples only while watched', async () => {
    // Big changes: every peer's reason changes each sample, about 1 MB per delta.
    peers = Array.from({ length: 1_000 }, (_, i) => peer(`member-${i}`));
    const reader = viewer();
    const stalled = viewer();
    await reader.next(1);
    await stalled.next(1);
    stalled.pause();
    const stalledResponse = responses[1];
    let round = 0;
    while (!stalledResponse?.destroyed) {
      round += 1;
      if (round > 200) throw new Error('the stalled viewer was never dropped');
      const reason = `${round}`.padEnd(1_000, 'x');
      peers = peers.map((p) => ({ ...p, encapReason: reason }));
      stream.nudge();
      await waitUntil(() => reader.view()?.peers[0]?.encapReason === reason, 10_000, `round ${round} at the reader`);
    }
    expect(responses[0]?.destroyed).toBe(false);
    expect(reader.view()?.peers).toEqual(current().peers);

    reader.close();
    await waitUntil(() => responses[0]?.destroyed === true, 10_000, 'the reader gone');
    const sampled = samples;
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // time for a sample that must not come
    expect(samples).toBe(sampled);
  });
});
