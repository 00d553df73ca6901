/**
 * Schema step for revocation (appended to MIGRATIONS): `peer revoke` stamps `revoked_at`, and
 * while it is set the peer is refused whatever it proves (its own key over SSH or in a client
 * token, or a hub-issued token); `peer restore` clears it.
 */
export const PEER_REVOCATION_MIGRATION = `
  ALTER TABLE peers ADD COLUMN revoked_at INTEGER;
`;
