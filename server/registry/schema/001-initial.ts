import type { SchemaStep } from './schema-step.js';

/**
 * Step 1, the single hub's registry: hub settings, pools, peers and their SSH keys, invites,
 * links with their /30 allocations, released /30s, endpoint history and the audit log.
 *
 * Times are integer milliseconds since the epoch; IPv4 networks are unsigned integers so
 * allocation can use integer indexes. The hub is not a peer row: a link whose `end_a` is NULL is a
 * hub<->peer link (the hub is always its first end), which keeps the hub out of every peer query.
 * Peers' pins moved to `peer_pins` in step 9; `peers.pinned_encap` is no longer read.
 */
export const INITIAL_STEP: SchemaStep = {
  name: 'initial',
  sqlite: `
  CREATE TABLE hub (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    endpoint TEXT NOT NULL,
    next_gre_key INTEGER NOT NULL DEFAULT 1,
    -- token versions come from one hub-wide counter, so a peer removed and added again under
    -- the same name never matches a version its namesake's old tokens carry
    next_token_version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE pools (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cidr TEXT NOT NULL UNIQUE,
    network INTEGER NOT NULL UNIQUE,
    prefix_length INTEGER NOT NULL CHECK (prefix_length BETWEEN 0 AND 30),
    end_network INTEGER NOT NULL,          -- one past the pool's last address
    next_network INTEGER NOT NULL,         -- lowest /30 never handed out; all above it are free
    created_at INTEGER NOT NULL,
    CHECK (network < end_network AND next_network BETWEEN network AND end_network)
  );

  CREATE TABLE peers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    token_version INTEGER NOT NULL,
    pinned_encap TEXT CHECK (pinned_encap IN ('gre', 'ipip', 'fou', 'gue')),
    created_at INTEGER NOT NULL
  );

  CREATE TABLE ssh_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    peer_id INTEGER NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,              -- canonical "type base64"
    comment TEXT,
    fingerprint TEXT NOT NULL UNIQUE,      -- SHA256:... as ssh-keygen -l prints it
    added_at INTEGER NOT NULL
  );
  CREATE INDEX ssh_keys_peer ON ssh_keys(peer_id);

  CREATE TABLE invites (
    jti TEXT PRIMARY KEY,
    pool_id INTEGER REFERENCES pools(id),
    uses_left INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    end_a INTEGER REFERENCES peers(id) ON DELETE CASCADE,   -- NULL: the hub
    end_b INTEGER NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
    gre_key INTEGER NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    CHECK (end_a IS NULL OR end_a <> end_b)
  );
  -- one link per pair, whichever way round it was added
  CREATE UNIQUE INDEX links_pair ON links(min(ifnull(end_a, 0), end_b), max(ifnull(end_a, 0), end_b));
  CREATE INDEX links_end_a ON links(end_a) WHERE end_a IS NOT NULL;
  CREATE INDEX links_end_b ON links(end_b);

  -- Pools never overlap, so a range of the integer primary key is exactly one pool's rows:
  -- per-pool questions use that range instead of a second index on pool_id.
  CREATE TABLE allocations (
    network INTEGER PRIMARY KEY,           -- the /30's first address; unique, so never two overlap
    pool_id INTEGER NOT NULL REFERENCES pools(id),
    link_id INTEGER NOT NULL UNIQUE REFERENCES links(id) ON DELETE CASCADE
  );

  -- /30s below a pool's next_network that were released; the lowest is reused first
  CREATE TABLE free_subnets (
    network INTEGER PRIMARY KEY,
    pool_id INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE
  );

  -- however an allocation goes (link removed, peer removed by cascade), its /30 becomes free
  CREATE TRIGGER allocations_release AFTER DELETE ON allocations BEGIN
    INSERT INTO free_subnets (network, pool_id) VALUES (old.network, old.pool_id);
  END;

  CREATE TABLE endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    peer_id INTEGER NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    port INTEGER CHECK (port BETWEEN 1 AND 65535),
    source TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
  );
  CREATE INDEX endpoints_peer ON endpoints(peer_id, id);

  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT                            -- JSON; never tokens or private keys
  );
  `,
  // The columns the SQLite text explains inline, for this text too:
  // - hub.next_token_version: one hub-wide counter, so a peer removed and added again under the
  //   same name never matches a version its namesake's old tokens carry.
  // - pools.end_network: one past the pool's last address; pools.next_network: the lowest /30
  //   never handed out, all above it are free.
  // - ssh_keys.public_key: canonical "type base64"; ssh_keys.fingerprint: SHA256:... as
  //   ssh-keygen -l prints it.
  // - links.end_a: NULL is the hub; links_pair: one link per pair, whichever way round it was added.
  // - allocations.network: the /30's first address, unique, so never two overlap. Pools never
  //   overlap, so a range of it is exactly one pool's rows (no second index on pool_id).
  // - free_subnets: /30s below a pool's next_network that were released; the lowest is reused first.
  // - allocations_release: however an allocation goes (link removed, peer removed by cascade), its
  //   /30 becomes free.
  // - audit_log.detail: JSON; never tokens or private keys.
  postgres: `
  CREATE TABLE hub (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    endpoint TEXT NOT NULL,
    next_gre_key BIGINT NOT NULL DEFAULT 1,
    next_token_version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
  );

  CREATE TABLE pools (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    cidr TEXT NOT NULL UNIQUE,
    network BIGINT NOT NULL UNIQUE,
    prefix_length INTEGER NOT NULL CHECK (prefix_length BETWEEN 0 AND 30),
    end_network BIGINT NOT NULL,
    next_network BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (network < end_network AND next_network BETWEEN network AND end_network)
  );

  CREATE TABLE peers (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_version BIGINT NOT NULL,
    pinned_encap TEXT CHECK (pinned_encap IN ('gre', 'ipip', 'fou', 'gue')),
    created_at BIGINT NOT NULL
  );

  CREATE TABLE ssh_keys (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    peer_id BIGINT NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,
    comment TEXT,
    fingerprint TEXT NOT NULL UNIQUE,
    added_at BIGINT NOT NULL
  );
  CREATE INDEX ssh_keys_peer ON ssh_keys(peer_id);

  CREATE TABLE invites (
    jti TEXT PRIMARY KEY,
    pool_id BIGINT REFERENCES pools(id),
    uses_left INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
  );

  CREATE TABLE links (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    end_a BIGINT REFERENCES peers(id) ON DELETE CASCADE,
    end_b BIGINT NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
    gre_key BIGINT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    CHECK (end_a IS NULL OR end_a <> end_b)
  );
  CREATE UNIQUE INDEX links_pair ON links (LEAST(coalesce(end_a, 0), end_b), GREATEST(coalesce(end_a, 0), end_b));
  CREATE INDEX links_end_a ON links(end_a) WHERE end_a IS NOT NULL;
  CREATE INDEX links_end_b ON links(end_b);

  CREATE TABLE allocations (
    network BIGINT PRIMARY KEY,
    pool_id BIGINT NOT NULL REFERENCES pools(id),
    link_id BIGINT NOT NULL UNIQUE REFERENCES links(id) ON DELETE CASCADE
  );

  CREATE TABLE free_subnets (
    network BIGINT PRIMARY KEY,
    pool_id BIGINT NOT NULL REFERENCES pools(id) ON DELETE CASCADE
  );

  CREATE FUNCTION allocations_release() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO free_subnets (network, pool_id) VALUES (OLD.network, OLD.pool_id);
    RETURN OLD;
  END
  $$;
  CREATE TRIGGER allocations_release AFTER DELETE ON allocations FOR EACH ROW EXECUTE FUNCTION allocations_release();

  CREATE TABLE endpoints (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    peer_id BIGINT NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    port INTEGER CHECK (port BETWEEN 1 AND 65535),
    source TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
  );
  CREATE INDEX endpoints_peer ON endpoints(peer_id, id);

  CREATE TABLE audit_log (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT
  );
  `,
};
