import type { Logger } from 'pino';
import { PATH_PROVEN_INTERVALS } from '../../shared/protocol/index.js';
import { ConnectionGate, type DoorName, type GateTimeouts } from './connection-gate.js';
import type { SessionTiming } from './session-keepalives.js';
import type { SourceLimitSettings } from './source-limits.js';

/** One door's limits and timeouts beyond the defaults. */
export type DoorSettings = Partial<SourceLimitSettings> & Partial<GateTimeouts>;

/** A gate per front door of the hub. */
export type FrontDoorGates = Record<DoorName, ConnectionGate>;

/** The admin listener serves a few operators and one scraper: small caps. */
const ADMIN_LIMITS: Partial<SourceLimitSettings> = {
  connectRate: 10, connectBurst: 30, maxPerSource: 32, maxPendingPerSource: 16, maxConnections: 64, maxPending: 32,
};

/**
 * The gates of the WebSocket, SSH and admin listeners. Handshake deadlines: 10 s for WebSocket
 * and HTTP, 20 s for SSH (key exchange on a slow router). An authenticated control connection
 * may stay silent for twice the liveness timeout, or twice a path-proven session's slow keepalive
 * interval (its keepalives come more often).
 */
export function createFrontDoorGates(timing: SessionTiming, overrides: Partial<Record<DoorName, DoorSettings>>, log: Logger): FrontDoorGates {
  const sessionIdleMs = Math.max(120_000, 2 * timing.livenessMs, 2 * PATH_PROVEN_INTERVALS * timing.keepaliveMs);
  const gate = (door: DoorName, defaults: GateTimeouts, limits: Partial<SourceLimitSettings> = {}): ConnectionGate => {
    const { handshakeMs = defaults.handshakeMs, idleMs = defaults.idleMs, ...rest } = overrides[door] ?? {};
    return new ConnectionGate({ door, timeouts: { handshakeMs, idleMs }, limits: { ...limits, ...rest }, log });
  };
  return {
    ws: gate('ws', { handshakeMs: 10_000, idleMs: sessionIdleMs }),
    ssh: gate('ssh', { handshakeMs: 20_000, idleMs: sessionIdleMs }),
    admin: gate('admin', { handshakeMs: 10_000, idleMs: 60_000 }, ADMIN_LIMITS),
  };
}
