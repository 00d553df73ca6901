import { TunnelError } from '../../shared/errors.js';
import { isIpv4Address } from '../../shared/net/ipv4-address.js';
import type { AuditLog } from './audit-log.js';
import type { RegistryContext } from './registry-context.js';

/** The hub's own facts: the public address peers aim their tunnels at. */
export interface HubSettings {
  readonly endpoint: string;
  readonly createdAt: number;
}

/** The single `hub` row: endpoint and the GRE key and token version counters. */
export class HubSettingsStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /** The settings, or undefined before `init`. */
  get(): Promise<HubSettings | undefined> {
    return this.ctx.sql.get<HubSettings>('SELECT endpoint, created_at AS "createdAt" FROM hub WHERE id = 1');
  }

  /** The settings, or ERR_NOT_INITIALIZED. */
  async require(): Promise<HubSettings> {
    return (await this.get()) ?? this.notInitialized();
  }

  /** Creates the row, or changes the endpoint when it differs; returns whether anything changed. */
  setEndpoint(endpoint: string): Promise<boolean> {
    if (!isIpv4Address(endpoint)) {
      return Promise.reject(new TunnelError('ERR_INVALID_ADDRESS', `hub endpoint "${endpoint}" is not an IPv4 address (e.g. 198.51.100.1)`));
    }
    return this.ctx.transaction((tx) => tx.settings.writeEndpoint(endpoint));
  }

  /** Takes the next never-used token version; call inside the transaction that needs it. */
  async takeTokenVersion(): Promise<number> {
    const row = await this.ctx.sql.get<{ version: number }>('UPDATE hub SET next_token_version = next_token_version + 1 WHERE id = 1 RETURNING next_token_version - 1 AS version');
    return row?.version ?? this.notInitialized();
  }

  /** Takes the next never-used GRE key; call inside the transaction that creates the link. */
  async takeGreKey(): Promise<number> {
    const row = await this.ctx.sql.get<{ key: number }>('UPDATE hub SET next_gre_key = next_gre_key + 1 WHERE id = 1 RETURNING next_gre_key - 1 AS "key"');
    return row?.key ?? this.notInitialized();
  }

  private async writeEndpoint(endpoint: string): Promise<boolean> {
    const current = await this.get();
    if (current?.endpoint === endpoint) return false;
    if (current) {
      await this.ctx.sql.run('UPDATE hub SET endpoint = ? WHERE id = 1', endpoint);
    } else {
      await this.ctx.sql.run('INSERT INTO hub (id, endpoint, created_at) VALUES (1, ?, ?)', endpoint, this.ctx.clock());
    }
    await this.audit.record('hub.endpoint', 'hub', { endpoint, previous: current?.endpoint ?? null });
    return true;
  }

  private notInitialized(): never {
    throw new TunnelError('ERR_NOT_INITIALIZED', 'the hub is not initialized; run `tunnel-hub init --endpoint ADDR` first');
  }
}
