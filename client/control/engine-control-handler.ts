import type { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import type { TunnelUpdate } from '../../shared/datapath/tunnel-spec.js';
import { CONTROL_PROTOCOL_VERSION, type ControlRequest, type ControlResponse, type ControlRole } from './control-protocol.js';
import type { ControlHandler } from './control-server.js';

/** Serves the control protocol from a datapath engine: `status` lists its tunnels, `update` changes one live. */
export function engineControlHandler(engine: DatapathEngine, role: ControlRole): ControlHandler {
  return async (request: ControlRequest): Promise<ControlResponse> => {
    if (request.op === 'update') await engine.update(request.name, request.changes as TunnelUpdate);
    return {
      v: CONTROL_PROTOCOL_VERSION,
      ok: true,
      pid: process.pid,
      role,
      // A static tunnel routes nothing itself; the member's `run` reports what it installed.
      tunnels: engine.status().map((tunnel) => ({ ...tunnel, routes: [] })) as unknown as Record<string, unknown>[],
      sockets: engine.socketStatus() as unknown as Record<string, unknown>[],
    };
  };
}
