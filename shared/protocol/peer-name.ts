/** The name the hub goes by as a link end; no peer may take it. */
export const HUB_END_NAME = 'hub';

/** Longest peer name: short enough for SSH user names and `tnl-<name>` interface names. */
export const MAX_PEER_NAME_LENGTH = 31;

/** Lowercase only, so "Alice" and "alice" can never be two peers. */
export const PEER_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,30}$/;
