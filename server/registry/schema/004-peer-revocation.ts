import type { SchemaStep } from './schema-step.js';

/**
 * Step 4, revocation: `peer revoke` stamps `revoked_at`, and while it is set the peer is refused
 * whatever it proves (its own key over SSH or in a client token, or a hub-issued token);
 * `peer restore` clears it.
 */
export const PEER_REVOCATION_STEP: SchemaStep = {
  name: 'peer-revocation',
  sqlite: `
  ALTER TABLE peers ADD COLUMN revoked_at INTEGER;
`,
  postgres: `
  ALTER TABLE peers ADD COLUMN revoked_at BIGINT;
  `,
};
