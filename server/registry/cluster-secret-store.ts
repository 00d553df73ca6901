import type { RegistryContext } from './registry-context.js';

/** The `cluster_secrets` row holding the token signing key every hub of the cluster shares. */
const SIGNING_KEY = 'token-signing-key';

/** The `cluster_secrets` row holding the master key every encrypted link's SAs derive from. */
const ESP_MASTER_KEY = 'esp-master-key';

/**
 * Secrets the hubs of a cluster share through the registry (table from CLUSTER_MIGRATION): the
 * Ed25519 token signing key, so an invite or peer token signed by one hub is good at every other,
 * and the ESP master key, so every hub derives the same SAs for a link. A hub alone keeps them in
 * its SQLite file (0600) the same way. Whoever can read the registry can sign tokens and read
 * encrypted links: protect the database as you would the key files.
 */
export class ClusterSecretStore {
  constructor(private readonly ctx: RegistryContext) {}

  /**
   * The shared signing key (PKCS8 PEM). The first hub to ask stores `generate()`; two hubs
   * joining at once both end up with the one that was stored first.
   */
  async signingKey(generate: () => string): Promise<{ pem: string; created: boolean }> {
    const { changes } = await this.ctx.sql.run('INSERT INTO cluster_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
      SIGNING_KEY, generate(), this.ctx.clock());
    const row = await this.ctx.sql.get<{ value: string }>('SELECT value FROM cluster_secrets WHERE name = ?', SIGNING_KEY);
    return { pem: (row as { value: string }).value, created: changes > 0 };
  }

  /** The shared signing key (PKCS8 PEM), or undefined before any hub joined. */
  async findSigningKey(): Promise<string | undefined> {
    return (await this.ctx.sql.get<{ value: string }>('SELECT value FROM cluster_secrets WHERE name = ?', SIGNING_KEY))?.value;
  }

  /**
   * The ESP master key (32 bytes, base64url): made by the first hub that needs it, kept for good.
   * Every link's keys derive from it with HKDF (server/control/link-sa-keys.ts).
   */
  async espMasterKey(generate: () => string): Promise<string> {
    await this.ctx.sql.run('INSERT INTO cluster_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
      ESP_MASTER_KEY, generate(), this.ctx.clock());
    return ((await this.ctx.sql.get<{ value: string }>('SELECT value FROM cluster_secrets WHERE name = ?', ESP_MASTER_KEY)) as { value: string }).value;
  }
}
