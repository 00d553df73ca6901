import type { SchemaStep } from './schema-step.js';

/**
 * Step 9, pins to gretap. `peers.pinned_encap` and `link_paths.encap` check their values against
 * the four IP encapsulations, and SQLite cannot widen a CHECK in place: rebuilding `peers` would
 * cascade-delete everything that references it. So pins move to `peer_pins` (one row per pinned
 * peer; `peers.pinned_encap` is emptied and no longer read), and `link_paths`, which nothing
 * references, is rebuilt with gretap allowed.
 */
export const ENCAP_PIN_STEP: SchemaStep = {
  name: 'encap-pins',
  sqlite: `
  CREATE TABLE peer_pins (
    peer_id INTEGER PRIMARY KEY REFERENCES peers(id) ON DELETE CASCADE,
    encap TEXT NOT NULL CHECK (encap IN ('gre', 'ipip', 'fou', 'gue', 'gretap'))
  );
  INSERT INTO peer_pins (peer_id, encap) SELECT id, pinned_encap FROM peers WHERE pinned_encap IS NOT NULL;
  UPDATE peers SET pinned_encap = NULL;

  CREATE TABLE link_paths_next (
    link_id INTEGER PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,
    encap TEXT NOT NULL CHECK (encap IN ('gre', 'ipip', 'fou', 'gue', 'gretap')),
    reason TEXT NOT NULL,
    decided_at INTEGER NOT NULL
  );
  INSERT INTO link_paths_next (link_id, encap, reason, decided_at) SELECT link_id, encap, reason, decided_at FROM link_paths;
  DROP TABLE link_paths;
  ALTER TABLE link_paths_next RENAME TO link_paths;
`,
  // PostgreSQL widens the CHECK of `link_paths` in place.
  postgres: `
  CREATE TABLE peer_pins (
    peer_id BIGINT PRIMARY KEY REFERENCES peers(id) ON DELETE CASCADE,
    encap TEXT NOT NULL CHECK (encap IN ('gre', 'ipip', 'fou', 'gue', 'gretap'))
  );
  INSERT INTO peer_pins (peer_id, encap) SELECT id, pinned_encap FROM peers WHERE pinned_encap IS NOT NULL;
  UPDATE peers SET pinned_encap = NULL;

  ALTER TABLE link_paths DROP CONSTRAINT link_paths_encap_check;
  ALTER TABLE link_paths ADD CONSTRAINT link_paths_encap_check CHECK (encap IN ('gre', 'ipip', 'fou', 'gue', 'gretap'));
`,
};
