import type { EncapsulationPlan } from './encapsulation-plan.js';
import { outerKeyOf } from './outer-address.js';
import { NO_GRE_KEY, type OuterSocket } from './outer-socket.js';
import { StaticPlacement } from './static-placement.js';
import type { TunnelSpec } from './tunnel-spec.js';
import type { PreparedSas } from './tunnel-security-associations.js';
import type { Tunnel, TunnelPath, TunnelPlacement } from './tunnel.js';
import type { BindingEvent } from './udp-binding-event.js';
import { HubBinding } from './udp-binding-hub.js';

/**
 * The path a tunnel takes for `spec`: its sockets, outer keys and placement. The placement is the
 * hub binding the tunnel has when that carries over (HubBinding.carriesOver), a new unbound hub
 * binding for auth role 'hub', else the configured remote.
 */
export function tunnelPath(
  spec: TunnelSpec, plan: EncapsulationPlan, learnedPathMtu: number | null,
  socket: OuterSocket, socket6: OuterSocket, trap: OuterSocket | null, sas: PreparedSas, onBinding: (event: BindingEvent) => void,
): TunnelPath {
  const place = (tunnel: Tunnel, current: TunnelPlacement | null): TunnelPlacement => {
    if (current instanceof HubBinding && current.carriesOver(spec, socket)) {
      current.renew(spec);
      return current;
    }
    if (spec.auth?.role === 'hub') return new HubBinding(tunnel, socket, spec, onBinding);
    const trapped = trap === null ? null : { socket: trap, subKey: subKeyOn(trap, spec) };
    return new StaticPlacement(tunnel, socket, socket6, outerKeyOf(spec.remote), spec.remotePort, subKeyOn(socket, spec), trapped);
  };
  return { spec, plan, learnedPathMtu, socket, socket6, trap, sas, localAddress: outerKeyOf(spec.local), greKey: spec.key ?? NO_GRE_KEY, place };
}

/** Why `spec` cannot take its place on its sockets (another tunnel than `except` holds it), or null. */
export function claimProblem(
  socket: OuterSocket, socket6: OuterSocket, trap: OuterSocket | null, spec: TunnelSpec, except?: Tunnel,
): string | null {
  return claimProblemOn(socket, spec, except) ?? (socket6 !== socket ? claimProblemOn(socket6, spec, except) : null)
    ?? (trap !== null ? claimProblemOn(trap, spec, except) : null);
}

function claimProblemOn(socket: OuterSocket, spec: TunnelSpec, except: Tunnel | undefined): string | null {
  if (spec.auth?.role === 'hub') {
    const holder = socket.bindingHolder(spec.auth.bindingId);
    return holder !== undefined && holder !== except ? `another tunnel already has binding id ${spec.auth.bindingId} on ${socket.id}` : null;
  }
  // A hub-role holder only claimed the address:port with a hello; a static placement displaces it.
  const holder = socket.lookup(outerKeyOf(spec.remote), subKeyOn(socket, spec));
  return holder !== undefined && holder !== except && !(holder.placement instanceof HubBinding)
    ? `another tunnel already receives ${describeDemux(socket, spec)}` : null;
}

/**
 * The demux sub-key a configured remote is registered under on `socket`: the remote UDP port,
 * the GRE key on a raw GRE socket, else 0 (IPIP; raw ESP, where one tunnel per remote address
 * and local address is taken, its GRE key checked after opening).
 */
function subKeyOn(socket: OuterSocket, spec: TunnelSpec): number {
  if (socket.transport === 'udp') return spec.remotePort;
  if (socket.transport === 'gre') return spec.key ?? NO_GRE_KEY;
  return 0;
}

function describeDemux(socket: OuterSocket, spec: TunnelSpec): string {
  if (socket.transport === 'udp') return `UDP from ${spec.remote}:${spec.remotePort} on ${spec.local}:${spec.localPort}`;
  if (socket.transport === 'gre') return `GRE from ${spec.remote}${spec.key === null ? ' without a key' : ` with key ${spec.key}`} on ${spec.local}`;
  if (socket.transport === 'esp') return `ESP from ${spec.remote} on ${spec.local}`;
  return `IPIP from ${spec.remote} on ${spec.local}`;
}
