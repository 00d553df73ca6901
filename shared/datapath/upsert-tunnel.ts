import type { DatapathEngine, TunnelShape, TunnelStatus } from './datapath-engine.js';
import type { TunnelSpecInput } from './tunnel-spec.js';
import { outerFamilyOf } from './outer-address.js';

/**
 * Makes the engine run `spec`: adds the tunnel, or changes the running one in place (same TUN,
 * no flap) when only its outer side differs. A different inner address needs a new interface
 * address, and a move between gretap and an IP encapsulation (or a new MAC) another device, which
 * the engine cannot change live, so only then is the tunnel re-created. The caller makes one
 * upsert of a name at a time (the engine serialises the changes, not this decision).
 */
export async function upsertTunnel(engine: DatapathEngine, spec: TunnelSpecInput): Promise<void> {
  const running = engine.tunnelShape(spec.name);
  if (!running) {
    await engine.addTunnel(spec);
    return;
  }
  if (needsNewDevice(running, spec)) {
    await engine.removeTunnel(spec.name);
    await engine.addTunnel(spec);
    return;
  }
  await engine.update(spec.name, {
    encap: spec.encap,
    local: spec.local,
    remote: spec.remote,
    ...(spec.key !== undefined ? { key: spec.key } : {}),
    ...(spec.port !== undefined ? { port: spec.port } : {}),
    ...(spec.localPort !== undefined ? { localPort: spec.localPort } : {}),
    ...(spec.remotePort !== undefined ? { remotePort: spec.remotePort } : {}),
    ...(spec.mtu !== undefined ? { mtu: spec.mtu } : {}),
    ...(spec.ttl !== undefined ? { ttl: spec.ttl } : {}),
    ...(spec.keepaliveInterval !== undefined ? { keepaliveInterval: spec.keepaliveInterval } : {}),
    ...(spec.auth !== undefined ? { auth: spec.auth } : {}),
    ...(spec.helloInterval !== undefined ? { helloInterval: spec.helloInterval } : {}),
    ...(spec.bindingTimeout !== undefined ? { bindingTimeout: spec.bindingTimeout } : {}),
    ...(spec.sources !== undefined ? { sources: spec.sources } : {}),
    // A spec without esp is a cleartext tunnel: the running one's SAs go too.
    esp: spec.esp ?? null,
  });
}

/** The status of the tunnel named `name` when it runs, else undefined (looked up by name, not by listing every tunnel). */
export function runningStatus(engine: DatapathEngine, name: string): TunnelStatus | undefined {
  return engine.has(name) ? engine.tunnelStatus(name) : undefined;
}

/**
 * True when `spec` cannot be applied to the running tunnel in place: another inner address, or
 * another kind of device (gretap's TAP or a TUN) or MAC address.
 */
export function needsNewDevice(running: TunnelShape, spec: TunnelSpecInput): boolean {
  return running.inner !== (spec.address ?? null) || running.peerInner !== (spec.peerAddress ?? null)
    || (running.encap === 'gretap') !== (spec.encap === 'gretap')
    || (spec.mac !== undefined && running.mac !== spec.mac)
    // A TAP that moved between outer families in place stopped carrying (netns gretap-hub-link);
    // made anew, it keeps its MAC.
    || (spec.encap === 'gretap' && running.outerFamily !== outerFamilyOf(spec.local));
}
