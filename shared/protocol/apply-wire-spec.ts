import type { DatapathEngine } from '../datapath/datapath-engine.js';
import type { TunnelUpdate } from '../datapath/tunnel-spec.js';
import { needsNewDevice, upsertTunnel } from '../datapath/upsert-tunnel.js';
import type { WireTunnelSpec } from './tunnel-spec-schema.js';
import { wireSpecToEngine } from './wire-spec-to-engine.js';

/**
 * Makes the engine run a hub-issued spec. Such a spec is the whole desired state, so what it leaves
 * out is cleared on a running tunnel: a link that moved from keyed GRE to FOU/GUE loses its GRE key,
 * one that moved back to GRE loses its binding, one no longer encrypted loses its SAs, and a hub end whose member may now send from any
 * source loses its source filter (upsertTunnel keeps fields a spec omits, which is right for
 * `tunnel-client set`, not here). Added, or re-created for a new inner address or another kind of
 * device (gretap), as usual.
 */
export async function applyWireSpec(engine: DatapathEngine, wire: WireTunnelSpec): Promise<void> {
  const spec = wireSpecToEngine(wire);
  const running = engine.tunnelShape(spec.name);
  if (!running || needsNewDevice(running, spec)) return upsertTunnel(engine, spec);
  // The MAC is the device's, the same as running here (else it would have been re-created).
  const { name, address: _address, peerAddress: _peerAddress, mac: _mac, ...outer } = spec;
  const update: TunnelUpdate = { ...outer, key: spec.key ?? null, auth: spec.auth ?? null, sources: spec.sources ?? null, esp: spec.esp ?? null };
  return engine.update(name, update);
}
