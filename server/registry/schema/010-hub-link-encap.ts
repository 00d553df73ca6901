import type { SchemaStep } from './schema-step.js';

/**
 * Step 10, the encapsulation of hub<->hub links. Both hubs of a pair read the one row, so they
 * run the same encapsulation: GRE until its keepalives go unanswered, then FOU (and back), unless
 * an operator pinned it. `encap_reason` says why it runs what it runs (`default`,
 * `gre-unanswered`, `fou-unanswered`, `pinned`, `unpinned`); `encap_changed_at` is when it last
 * changed (null: never).
 */
export const HUB_LINK_ENCAP_STEP: SchemaStep = {
  name: 'hub-link-encap',
  sqlite: `
  ALTER TABLE hub_links ADD COLUMN encap TEXT NOT NULL DEFAULT 'gre' CHECK (encap IN ('gre', 'fou'));
  ALTER TABLE hub_links ADD COLUMN encap_reason TEXT NOT NULL DEFAULT 'default';
  ALTER TABLE hub_links ADD COLUMN encap_pinned INTEGER NOT NULL DEFAULT 0 CHECK (encap_pinned IN (0, 1));
  ALTER TABLE hub_links ADD COLUMN encap_changed_at INTEGER;
`,
  postgres: `
  ALTER TABLE hub_links ADD COLUMN encap TEXT NOT NULL DEFAULT 'gre' CHECK (encap IN ('gre', 'fou'));
  ALTER TABLE hub_links ADD COLUMN encap_reason TEXT NOT NULL DEFAULT 'default';
  ALTER TABLE hub_links ADD COLUMN encap_pinned INTEGER NOT NULL DEFAULT 0 CHECK (encap_pinned IN (0, 1));
  ALTER TABLE hub_links ADD COLUMN encap_changed_at BIGINT;
`,
};
