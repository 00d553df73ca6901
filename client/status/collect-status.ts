import { TunnelError, type TunnelErrorCode } from '../../shared/errors.js';
import { CONTROL_PROTOCOL_VERSION } from '../control/control-protocol.js';
import { requestAllProcesses } from '../control/control-client.js';

/** Every tunnel of every running client process of a state folder, plus processes that did not answer. */
export interface CollectedStatus {
  tunnels: Record<string, unknown>[];
  unreachable: { path: string; error: string }[];
}

/** Asks each control socket in `<state>/run` for its tunnels and merges the answers. */
export async function collectStatus(stateDir: string): Promise<CollectedStatus> {
  const answers = await requestAllProcesses(stateDir, { v: CONTROL_PROTOCOL_VERSION, op: 'status' });
  const tunnels: Record<string, unknown>[] = [];
  const unreachable: { path: string; error: string }[] = [];
  for (const answer of answers) {
    if (answer.response?.ok) {
      for (const tunnel of answer.response.tunnels) tunnels.push({ ...tunnel, pid: answer.response.pid, process: answer.response.role });
    } else {
      const error = answer.error ?? toTunnelError(answer.response);
      unreachable.push({ path: answer.path, error: `${error.code}: ${error.message}` });
    }
  }
  return { tunnels, unreachable };
}

/** The TunnelError a refusal reply carries. */
export function toTunnelError(response: { ok: false; error: { code: string; message: string } } | { ok: true } | undefined): TunnelError {
  if (response === undefined || response.ok) return new TunnelError('ERR_PROTOCOL', 'no reply');
  return new TunnelError(response.error.code as TunnelErrorCode, response.error.message);
}
