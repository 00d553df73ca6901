/**
 * Schema step for the path each link runs (appended to MIGRATIONS): the encapsulation the hub chose
 * for it (GRE, or FOU/GUE through a NAT) and why. A peer's pin (`peers.pinned_encap`) still wins
 * in the link's table; this row is the automatic choice beneath it.
 */
export const LINK_PATH_MIGRATION = `
  CREATE TABLE link_paths (
    link_id INTEGER PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,
    encap TEXT NOT NULL CHECK (encap IN ('gre', 'ipip', 'fou', 'gue')),
    reason TEXT NOT NULL,
    decided_at INTEGER NOT NULL
  );
`;
