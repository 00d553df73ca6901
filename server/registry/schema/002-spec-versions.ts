import type { SchemaStep } from './schema-step.js';

/**
 * Step 2, versioned tunnel specs. The hub's end is versioned per link; a peer's config (all of
 * its ends, one message) per peer. `applied_version` is what the end confirmed: the hub's
 * datapath applied it, or the peer acknowledged it. Versions only grow, so a client can drop a
 * stale push even across hub restarts.
 */
export const SPEC_VERSION_STEP: SchemaStep = {
  name: 'spec-versions',
  sqlite: `
  CREATE TABLE hub_end_specs (
    link_id INTEGER PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version >= 1),
    spec TEXT NOT NULL,                    -- JSON tunnel spec of the hub's end
    applied_version INTEGER NOT NULL DEFAULT 0,
    applied_at INTEGER,
    issued_at INTEGER NOT NULL
  );

  CREATE TABLE peer_configs (
    peer_id INTEGER PRIMARY KEY REFERENCES peers(id) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version >= 1),
    config TEXT NOT NULL,                  -- JSON { tunnels, links } pushed to the peer
    reported TEXT,                         -- the address the peer claims (never a tunnel target)
    acked_version INTEGER NOT NULL DEFAULT 0,
    acked_at INTEGER,
    issued_at INTEGER NOT NULL
  );
`,
  // As inline in the SQLite text: hub_end_specs.spec is the JSON tunnel spec of the hub's end;
  // peer_configs.config the JSON { tunnels, links } pushed to the peer; peer_configs.reported the
  // address the peer claims (never a tunnel target).
  postgres: `
  CREATE TABLE hub_end_specs (
    link_id BIGINT PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version >= 1),
    spec TEXT NOT NULL,
    applied_version INTEGER NOT NULL DEFAULT 0,
    applied_at BIGINT,
    issued_at BIGINT NOT NULL
  );

  CREATE TABLE peer_configs (
    peer_id BIGINT PRIMARY KEY REFERENCES peers(id) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version >= 1),
    config TEXT NOT NULL,
    reported TEXT,
    acked_version INTEGER NOT NULL DEFAULT 0,
    acked_at BIGINT,
    issued_at BIGINT NOT NULL
  );
  `,
};
