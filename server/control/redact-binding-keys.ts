import { createHash } from 'node:crypto';
import type { WireTunnelSpec } from '../../shared/protocol/index.js';

/**
 * A spec as the registry stores it: each binding key replaced by a short digest, so no session
 * or link key ever lands in the database, while a changed key still changes the stored text (and
 * so still bumps the spec version).
 */
export function redactBindingKey(spec: WireTunnelSpec): WireTunnelSpec {
  if (!spec.auth) return spec;
  const digest = createHash('sha256').update(spec.auth.key).digest('base64url').slice(0, 22);
  return { ...spec, auth: { ...spec.auth, key: digest } };
}
