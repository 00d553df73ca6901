/**
 * Schema step for hub<->hub links (appended to MIGRATIONS; PostgreSQL twin in
 * postgres-migrations.ts): each pair of hubs of a cluster gets its own /30 from the pools and its
 * own GRE key, the lower name taking the lower address. Deleting the row (or a hub, by cascade)
 * files the /30 as free again, as an allocation's release does.
 */
export const HUB_LINK_MIGRATION = `
  CREATE TABLE hub_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hub_a TEXT NOT NULL REFERENCES hubs(name) ON DELETE CASCADE,
    hub_b TEXT NOT NULL REFERENCES hubs(name) ON DELETE CASCADE,
    network INTEGER NOT NULL UNIQUE,
    pool_id INTEGER NOT NULL REFERENCES pools(id),
    gre_key INTEGER NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    CHECK (hub_a < hub_b),
    UNIQUE (hub_a, hub_b)
  );

  CREATE TRIGGER hub_links_release AFTER DELETE ON hub_links BEGIN
    INSERT INTO free_subnets (network, pool_id) VALUES (old.network, old.pool_id);
  END;
`;
