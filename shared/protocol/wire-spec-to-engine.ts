import type { TunnelSpecInput } from '../datapath/tunnel-spec.js';
import type { WireTunnelSpec } from './tunnel-spec-schema.js';

/**
 * A tunnel spec as it crossed the wire, in the shape the datapath engine takes: the binding key
 * travels as base64url text and the engine wants its bytes; routes are left out.
 */
export function wireSpecToEngine(spec: WireTunnelSpec): TunnelSpecInput {
  // Routes are the kernel's, installed beside the tunnel (shared/routing), not the engine's.
  const { auth, routes: _routes, routeMetric: _routeMetric, ...rest } = spec;
  return {
    ...rest,
    ...(auth ? { auth: { bindingId: auth.bindingId, role: auth.role, key: Buffer.from(auth.key, 'base64url') } } : {}),
  };
}
