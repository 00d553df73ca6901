import type { TunnelEspInput } from '../datapath/tunnel-esp.js';
import type { TunnelSpecInput } from '../datapath/tunnel-spec.js';
import type { WireTunnelEsp, WireTunnelSpec } from './tunnel-spec-schema.js';

/**
 * A tunnel spec as it crossed the wire, in the shape the datapath engine takes: the binding key
 * and the ESP SA keys travel as base64url text and the engine wants their bytes; routes are left out.
 */
export function wireSpecToEngine(spec: WireTunnelSpec): TunnelSpecInput {
  // Routes are the kernel's, installed beside the tunnel (shared/routing), not the engine's.
  const { auth, esp, routes: _routes, routeMetric: _routeMetric, ...rest } = spec;
  return {
    ...rest,
    ...(auth ? { auth: { bindingId: auth.bindingId, role: auth.role, key: Buffer.from(auth.key, 'base64url') } } : {}),
    ...(esp ? { esp: wireEspToEngine(esp) } : {}),
  };
}

function wireEspToEngine(esp: WireTunnelEsp): TunnelEspInput {
  const sa = (s: { spi: number; key: string }) => ({ spi: s.spi, key: Buffer.from(s.key, 'base64url') });
  return {
    aead: esp.aead,
    outbound: esp.outbound === null ? null : sa(esp.outbound),
    inbound: esp.inbound.map(sa),
    ...(esp.udp === undefined ? {} : { udp: esp.udp }),
  };
}
