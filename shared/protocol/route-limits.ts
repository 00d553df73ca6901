/** Most prefixes one member may advertise (`--advertise`, the `advertise` list of its hello). */
export const MAX_ADVERTISED = 64;

/** Most prefixes one tunnel routes: the hub's pools plus the prefixes approved behind members. */
export const MAX_TUNNEL_ROUTES = 1100;
