/**
 * Schema step for mesh routing (appended to MIGRATIONS): prefixes behind members, pending (asked
 * for with `--advertise`) or approved (by the operator), and whether the hub checks a member's
 * inner sources. Prefixes are stored in canonical text; overlap is decided in code
 * (server/routing/route-conflict.ts) over the few hundred rows a hub has.
 */
export const PEER_ROUTING_MIGRATION = `
  ALTER TABLE peers ADD COLUMN source_check INTEGER NOT NULL DEFAULT 1 CHECK (source_check IN (0, 1));

  CREATE TABLE peer_routes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    peer_id INTEGER NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
    prefix TEXT NOT NULL,                  -- canonical CIDR, IPv4 or IPv6
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved')),
    requested_at INTEGER,                  -- when the member asked for it, NULL if the operator added it
    approved_at INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (peer_id, prefix)
  );
  CREATE INDEX peer_routes_state ON peer_routes(state);
`;
