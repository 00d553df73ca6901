import type { SchemaStep } from './schema-step.js';

/**
 * Step 3, the path each link runs: the encapsulation the hub chose for it (GRE, or FOU/GUE
 * through a NAT) and why. A peer's pin still wins in the link's table; this row is the
 * automatic choice beneath it. Step 9 widens the allowed encapsulations.
 */
export const LINK_PATH_STEP: SchemaStep = {
  name: 'link-paths',
  sqlite: `
  CREATE TABLE link_paths (
    link_id INTEGER PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,
    encap TEXT NOT NULL CHECK (encap IN ('gre', 'ipip', 'fou', 'gue')),
    reason TEXT NOT NULL,
    decided_at INTEGER NOT NULL
  );
`,
  postgres: `
  CREATE TABLE link_paths (
    link_id BIGINT PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,
    encap TEXT NOT NULL CHECK (encap IN ('gre', 'ipip', 'fou', 'gue')),
    reason TEXT NOT NULL,
    decided_at BIGINT NOT NULL
  );
  `,
};
