import type { SchemaStep } from './schema-step.js';

/**
 * Step 11, shortcuts: peer<->peer links the hub makes for busy member pairs. A link is a shortcut
 * when it has a row in `link_shortcuts`; every other peer link is the operator's (`link add`).
 * The row holds why the hub made it (e.g. `rate 3.2 Mbit/s`) and when traffic last crossed it
 * (its creation until then; `links.created_at` is its age). It goes with its link, and the /30
 * with it. `peers.shortcuts` is `peer set NAME --shortcuts on|off`.
 */
export const SHORTCUT_STEP: SchemaStep = {
  name: 'shortcuts',
  sqlite: `
  ALTER TABLE peers ADD COLUMN shortcuts INTEGER NOT NULL DEFAULT 1 CHECK (shortcuts IN (0, 1));

  CREATE TABLE link_shortcuts (
    link_id INTEGER PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,
    why TEXT NOT NULL,
    last_active_at INTEGER NOT NULL
  );
`,
  postgres: `
  ALTER TABLE peers ADD COLUMN shortcuts INTEGER NOT NULL DEFAULT 1 CHECK (shortcuts IN (0, 1));

  CREATE TABLE link_shortcuts (
    link_id BIGINT PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,
    why TEXT NOT NULL,
    last_active_at BIGINT NOT NULL
  );
`,
};
