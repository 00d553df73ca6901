/**
 * The client-signed bearer token (JWT header `typ`) a member uses after its first join: signed
 * with its own registered Ed25519 key, `kid` = that key's SHA256 fingerprint, `iss` = `sub` =
 * the peer name, `aud` = the hub id, and valid for at most CLIENT_TOKEN_MAX_AGE_S seconds.
 */
export const CLIENT_TOKEN_TYPE = 'tunnel-client+jwt';

/** Longest lifetime (exp - iat) of a client-signed token, in seconds. */
export const CLIENT_TOKEN_MAX_AGE_S = 300;

/** Upgrade headers of the WebSocket front door. */
export const JOIN_HEADERS = {
  /** The name a member asks for when redeeming an invite. */
  name: 'x-tunnel-join-name',
  /** The member's OpenSSH public key line (ssh-ed25519) to register on join. */
  key: 'x-tunnel-join-key',
  /** Sent back by the hub on upgrade: its id, the audience of client-signed tokens. */
  hubId: 'x-tunnel-hub-id',
} as const;
