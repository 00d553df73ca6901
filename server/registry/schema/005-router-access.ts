import type { SchemaStep } from './schema-step.js';

/**
 * Step 5, routers. `links.keyless` marks a hub link that runs GRE without a key, for routers that
 * cannot set one (`peer add|set NAME --no-key`); the hub tells such links apart by their source
 * address. `dyndns_keys` holds the SHA-256 of each peer's dyndns2 key (`peer update-key NAME`),
 * never the key itself; a new key replaces the row, voiding the old one.
 */
export const ROUTER_ACCESS_STEP: SchemaStep = {
  name: 'router-access',
  sqlite: `
  ALTER TABLE links ADD COLUMN keyless INTEGER NOT NULL DEFAULT 0 CHECK (keyless IN (0, 1));

  CREATE TABLE dyndns_keys (
    peer_id INTEGER PRIMARY KEY REFERENCES peers(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL,                -- hex SHA-256 of the key
    created_at INTEGER NOT NULL
  );
`,
  // As inline in the SQLite text: dyndns_keys.key_hash is the hex SHA-256 of the key.
  postgres: `
  ALTER TABLE links ADD COLUMN keyless INTEGER NOT NULL DEFAULT 0 CHECK (keyless IN (0, 1));

  CREATE TABLE dyndns_keys (
    peer_id BIGINT PRIMARY KEY REFERENCES peers(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  `,
};
