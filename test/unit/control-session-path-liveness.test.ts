import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubSession } from '../../client/session/hub-session.js';
import { ControlSession, type SessionEvents } from '../../server/control/control-session.js';
import { SessionKeepalives, tickMsFor } from '../../server/control/session-keepalives.js';
import type { TunnelError } from '../../shared/errors.js';
import { CONTROL_SILENCE_INTERVALS, PATH_PROVEN_INTERVALS, offersPathLiveness, pathLivenessFits } from '../../shared/protocol/index.js';
import { FakeSessionTransport } from '../helpers/fake-session-transport.js';

const TIMING = { keepaliveMs: 1_000, livenessMs: 3_000 };
const TICK = tickMsFor(TIMING.keepaliveMs);
const HELLO = JSON.stringify({ v: 1, type: 'hello', software: 'test', endpoint: '203.0.113.10' });
const KEEPALIVE = JSON.stringify({ v: 1, type: 'keepalive' });

const ignore = (): void => undefined;
const events: SessionEvents = {
  established: ignore, reported: ignore, acked: ignore, probed: ignore, rekeyRequested: ignore, linkReported: ignore, clientError: ignore, closed: ignore,
};

/** A hub session of a member whose hub tunnel the test says is heard (a time) or not (null). */
function hubSession(pathProven: boolean) {
  const transport = new FakeSessionTransport('203.0.113.10');
  let heard: number | null = null;
  let reads = 0;
  const pathHeardAt = () => {
    reads++;
    return heard;
  };
  const session = new ControlSession('alice', transport, new SessionKeepalives(TIMING), events, null, pathProven ? pathHeardAt : null);
  session.receive(HELLO);
  return {
    transport, session,
    /** The tunnel hears the member from now on (at each keepalive interval), or stops: then the datapath says so, as the hub's does. */
    pathHeard: (on: boolean) => {
      const last = heard;
      heard = on ? Date.now() : null;
      if (!on && last !== null) session.pathQuiet(last);
    },
    keepalives: () => transport.messages('keepalive').length,
    /** How often the session read its tunnel's proof. */
    reads: () => reads,
  };
}

/** Advances `ms` in steps of one interval, the tunnel hearing the member at each when `heard`. */
function elapse(ms: number, path: { pathHeard: (on: boolean) => void }, heard: boolean): void {
  for (let done = 0; done < ms; done += TIMING.keepaliveMs) {
    vi.advanceTimersByTime(Math.min(TIMING.keepaliveMs, ms - done));
    path.pathHeard(heard);
  }
}

describe('path-proven liveness, the hub side', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('slows keepalives to one every few intervals while the hub tunnel hears the member, and keeps a silent member', () => {
    const hub = hubSession(true);
    hub.pathHeard(true);
    elapse(TIMING.keepaliveMs * PATH_PROVEN_INTERVALS - TICK, hub, true);
    expect(hub.keepalives()).toBe(0);
    elapse(2 * TICK, hub, true);
    expect(hub.keepalives()).toBe(1);
    elapse(TIMING.keepaliveMs * (CONTROL_SILENCE_INTERVALS - PATH_PROVEN_INTERVALS - 1), hub, true);
    // The member never answered: its tunnel alone kept it alive past the liveness timeout.
    expect(hub.transport.closedWith).toBeUndefined();
    expect(hub.keepalives()).toBe(1);
    // Its last sign of life is the tunnel's, not the hello.
    expect(hub.session.lastSeen).toBeGreaterThan(Date.now() - 2 * TIMING.keepaliveMs);
  });

  it('takes no turn between its slow keepalives while the path proves the member, and one at once when the path falls quiet', () => {
    const hub = hubSession(true);
    hub.pathHeard(true);
    elapse(TIMING.keepaliveMs * 2, hub, true);
    const reads = hub.reads();
    elapse(TIMING.keepaliveMs * (PATH_PROVEN_INTERVALS - 3), hub, true);
    expect(hub.reads()).toBe(reads);
    expect(hub.keepalives()).toBe(0);
    // Quiet: a turn within a tick sends a keepalive, and the proof up to then still counts.
    hub.pathHeard(false);
    vi.advanceTimersByTime(2 * TICK);
    expect(hub.reads()).toBe(reads + 1);
    expect(hub.keepalives()).toBe(1);
    expect(hub.transport.closedWith).toBeUndefined();
    expect(hub.session.lastSeen).toBeGreaterThan(Date.now() - TIMING.keepaliveMs - 2 * TICK);
  });

  it('sends every interval again once the tunnel stops hearing the member, and closes when that stays silent', () => {
    const hub = hubSession(true);
    elapse(TIMING.keepaliveMs * PATH_PROVEN_INTERVALS + TICK, hub, true);
    const before = hub.keepalives();
    hub.pathHeard(false);
    vi.advanceTimersByTime(TIMING.keepaliveMs * 2);
    expect(hub.keepalives()).toBeGreaterThanOrEqual(before + 1);
    expect(hub.transport.closedWith).toBeUndefined();
    // The member answers nothing: closed a liveness timeout after the tunnel last heard it.
    vi.advanceTimersByTime(TIMING.livenessMs);
    expect(hub.transport.closedWith).toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('closes a member that answers no control message for the control silence, however its tunnel fares', () => {
    const hub = hubSession(true);
    const silenceMs = TIMING.keepaliveMs * CONTROL_SILENCE_INTERVALS;
    elapse(silenceMs - TIMING.keepaliveMs, hub, true);
    expect(hub.transport.closedWith).toBeUndefined();
    elapse(TIMING.keepaliveMs + TICK, hub, true);
    expect(hub.transport.closedWith).toMatchObject({ code: 'ERR_TIMEOUT', message: expect.stringContaining('no control message') });
  });

  it('a member that answers each keepalive stays, with the path heard', () => {
    const hub = hubSession(true);
    for (let i = 0; i < CONTROL_SILENCE_INTERVALS * 2; i++) {
      elapse(TIMING.keepaliveMs, hub, true);
      if (hub.keepalives() > 0) hub.session.receive(KEEPALIVE);
    }
    expect(hub.transport.closedWith).toBeUndefined();
  });

  it('without the offer, a heard tunnel changes nothing: a keepalive every interval, closed after the liveness timeout', () => {
    const hub = hubSession(false);
    elapse(TIMING.keepaliveMs * 2 + TICK, hub, true);
    expect(hub.keepalives()).toBe(2);
    elapse(TIMING.livenessMs, hub, true);
    expect(hub.transport.closedWith).toMatchObject({ code: 'ERR_TIMEOUT' });
  });
});

/** A member's session of a hub that accepted (or not) path-proven liveness, its hub tunnel heard as the test says. */
function memberSession(accepted: boolean) {
  let heard: number | null = null;
  let ended: TunnelError | undefined | 'open' = 'open';
  const sent: { type: string }[] = [];
  const session = new HubSession({ localAddress: '203.0.113.10', hubId: null, pathLiveness: accepted, send: (text) => sent.push(JSON.parse(text)), close: ignore }, {
    welcomed: ignore, apply: async () => undefined, appliedVersion: () => 0, acknowledged: ignore,
    ended: (error) => (ended = error),
    hubPathHeardAt: () => heard,
  });
  session.start('test', '203.0.113.10');
  session.receive(Buffer.from(JSON.stringify({
    v: 1, type: 'welcome', peer: 'alice', session: 's', sessionKey: 'A'.repeat(43), keepaliveMs: TIMING.keepaliveMs, seen: '203.0.113.10',
  })));
  return {
    session, sent, ended: () => ended,
    pathHeard: (on: boolean) => {
      heard = on ? Date.now() : null;
    },
  };
}

describe('path-proven liveness, the member side', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('stays while the hub tunnel hears the hub, and ends after the control silence', () => {
    const member = memberSession(true);
    elapse(TIMING.keepaliveMs * (CONTROL_SILENCE_INTERVALS - 1), member, true);
    expect(member.ended()).toBe('open');
    elapse(TIMING.keepaliveMs * 2, member, true);
    expect(member.ended()).toMatchObject({ code: 'ERR_TIMEOUT', message: expect.stringContaining('no control message') });
  });

  it('ends a few intervals after the tunnel last heard the hub when no control message came either', () => {
    const member = memberSession(true);
    elapse(TIMING.keepaliveMs * 5, member, true);
    member.pathHeard(false);
    // The tunnel's last proof is at most an interval old when it stops: the end comes 2-3 intervals on.
    vi.advanceTimersByTime(TIMING.keepaliveMs);
    expect(member.ended()).toBe('open');
    vi.advanceTimersByTime(TIMING.keepaliveMs * 2);
    expect(member.ended()).toMatchObject({ code: 'ERR_TIMEOUT', message: expect.stringContaining('silent') });
  });

  it('a hub that did not accept: silence of three intervals ends the session, whatever the tunnel hears', () => {
    const member = memberSession(false);
    elapse(TIMING.keepaliveMs * 3, member, true);
    expect(member.ended()).toMatchObject({ code: 'ERR_TIMEOUT' });
  });
});

describe('offersPathLiveness', () => {
  it('reads the header as Node gives it: one value, a list, several headers, any case', () => {
    expect(offersPathLiveness('path')).toBe(true);
    expect(offersPathLiveness('other, Path')).toBe(true);
    expect(offersPathLiveness(['other', 'path'])).toBe(true);
    expect(offersPathLiveness('paths')).toBe(false);
    expect(offersPathLiveness(undefined)).toBe(false);
  });
});

describe('pathLivenessFits', () => {
  it('takes path keepalives only when two intervals fit in both sides\' liveness timeouts', () => {
    expect(pathLivenessFits(10_000, { keepaliveMs: 10_000, livenessMs: 30_000 })).toBe(true);
    expect(pathLivenessFits(25_000, { keepaliveMs: 10_000, livenessMs: 30_000 })).toBe(false);
    expect(pathLivenessFits(25_000, { keepaliveMs: 30_000, livenessMs: 90_000 })).toBe(true);
    expect(pathLivenessFits(10_000, { keepaliveMs: 5_000, livenessMs: 30_000 })).toBe(false);
    expect(pathLivenessFits(0, { keepaliveMs: 10_000, livenessMs: 30_000 })).toBe(false);
  });
});
