/** The control protocol version every message carries as `v`; a peer speaking another is refused. */
export const PROTOCOL_VERSION = 1;

/**
 * The largest control message either side accepts, in bytes of UTF-8 JSON. Configs for a peer with
 * many links stay far below this; anything bigger is a fault or an attack and closes the session.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;
