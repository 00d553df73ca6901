import type { SchemaStep } from './schema-step.js';

/**
 * Step 7, several hubs on one registry. A single SQLite hub has the tables too and leaves them
 * empty.
 * - `hubs`: each hub of the cluster, its public endpoint and SSH host key fingerprint (members
 *   pin it), where its front doors listen once it serves, and its heartbeat.
 * - `cluster_secrets`: what every hub must share, i.e. the token signing key (PKCS8 PEM), so any
 *   hub verifies any invite or peer token.
 * - `member_sessions`: which hub serves each member's session now. A member's /30 belongs to the
 *   member; the hub named here runs the hub end of it.
 */
export const CLUSTER_STEP: SchemaStep = {
  name: 'cluster',
  sqlite: `
  CREATE TABLE hubs (
    name TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    host_key_fingerprint TEXT NOT NULL,
    ws_url TEXT,                           -- ws[s]://ENDPOINT:PORT once the hub serves
    ssh_port INTEGER,
    started_at INTEGER,
    heartbeat_at INTEGER,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE cluster_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE member_sessions (
    peer_id INTEGER PRIMARY KEY REFERENCES peers(id) ON DELETE CASCADE,
    hub_name TEXT NOT NULL REFERENCES hubs(name) ON DELETE CASCADE,
    claimed_at INTEGER NOT NULL
  );
  CREATE INDEX member_sessions_hub ON member_sessions(hub_name);
`,
  // As inline in the SQLite text: hubs.ws_url is ws[s]://ENDPOINT:PORT once the hub serves.
  postgres: `
  CREATE TABLE hubs (
    name TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    host_key_fingerprint TEXT NOT NULL,
    ws_url TEXT,
    ssh_port INTEGER,
    started_at BIGINT,
    heartbeat_at BIGINT,
    created_at BIGINT NOT NULL
  );

  CREATE TABLE cluster_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );

  CREATE TABLE member_sessions (
    peer_id BIGINT PRIMARY KEY REFERENCES peers(id) ON DELETE CASCADE,
    hub_name TEXT NOT NULL REFERENCES hubs(name) ON DELETE CASCADE,
    claimed_at BIGINT NOT NULL
  );
  CREATE INDEX member_sessions_hub ON member_sessions(hub_name);
  `,
};
