import { createHash } from 'node:crypto';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';

/**
 * A spec as the registry stores it: each binding key and each ESP SA key replaced by a short
 * digest, so no session, link or SA key ever lands in the database, while a changed key still
 * changes the stored text (and so still bumps the spec version).
 */
export function redactBindingKey(spec: WireTunnelSpec): WireTunnelSpec {
  if (!spec.auth && !spec.esp) return spec;
  const { auth, esp } = spec;
  return {
    ...spec,
    ...(auth ? { auth: { ...auth, key: digestOf(auth.key) } } : {}),
    ...(esp ? {
      esp: {
        ...esp,
        outbound: esp.outbound && { spi: esp.outbound.spi, key: digestOf(esp.outbound.key) },
        inbound: esp.inbound.map((sa) => ({ spi: sa.spi, key: digestOf(sa.key) })),
      },
    } : {}),
  };
}

function digestOf(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}
