import { TunnelError } from '../../shared/errors.js';
import { CONTROL_PROTOCOL_VERSION, type TunnelChanges } from './control-protocol.js';
import { requestAllProcesses, requestControl } from './control-client.js';
import { toTunnelError } from '../status/collect-status.js';

/**
 * Applies `changes` live to the tunnel called `name`, in whichever client process of the state
 * folder runs it; returns that tunnel's new status. ERR_TUNNEL_NOT_FOUND when none does.
 */
export async function updateRunningTunnel(stateDir: string, name: string, changes: TunnelChanges): Promise<Record<string, unknown>> {
  const answers = await requestAllProcesses(stateDir, { v: CONTROL_PROTOCOL_VERSION, op: 'status' });
  const owner = answers.find((answer) => answer.response?.ok && answer.response.tunnels.some((tunnel) => tunnel.name === name));
  if (owner === undefined) throw new TunnelError('ERR_TUNNEL_NOT_FOUND', `no running tunnel named ${JSON.stringify(name)} in ${stateDir}`);
  const response = await requestControl(owner.path, { v: CONTROL_PROTOCOL_VERSION, op: 'update', name, changes });
  if (!response.ok) throw toTunnelError(response);
  const updated = response.tunnels.find((tunnel) => tunnel.name === name);
  if (updated === undefined) throw new TunnelError('ERR_TUNNEL_NOT_FOUND', `tunnel ${name} vanished during the update`);
  return updated;
}
