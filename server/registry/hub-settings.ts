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
  get(): HubSettings | undefined {
    return this.ctx.rdb.statement('SELECT endpoint, created_at AS createdAt FROM hub WHERE id = 1').get() as HubSettings | undefined;
  }

  /** The settings, or ERR_NOT_INITIALIZED. */
  require(): HubSettings {
    return this.get() ?? this.notInitialized();
  }

  /** Creates the row, or changes the endpoint when it differs; returns whether anything changed. */
  setEndpoint(endpoint: string): boolean {
    if (!isIpv4Address(endpoint)) {
      throw new TunnelError('ERR_INVALID_ADDRESS', `hub endpoint "${endpoint}" is not an IPv4 address (e.g. 198.51.100.1)`);
    }
    return this.ctx.rdb.immediate(() => {
      const current = this.get();
      if (current?.endpoint === endpoint) return false;
      if (current) {
        this.ctx.rdb.statement('UPDATE hub SET endpoint = ? WHERE id = 1').run(endpoint);
      } else {
        this.ctx.rdb.statement('INSERT INTO hub (id, endpoint, created_at) VALUES (1, ?, ?)').run(endpoint, this.ctx.clock());
      }
      this.audit.record('hub.endpoint', 'hub', { endpoint, previous: current?.endpoint ?? null });
      return true;
    });
  }

  /** Takes the next never-used token version; call inside the transaction that needs it. */
  takeTokenVersion(): number {
    const row = this.ctx.rdb.statement('UPDATE hub SET next_token_version = next_token_version + 1 WHERE id = 1 RETURNING next_token_version - 1 AS version').get() as { version: number } | undefined;
    return row?.version ?? this.notInitialized();
  }

  /** Takes the next never-used GRE key; call inside the transaction that creates the link. */
  takeGreKey(): number {
    const row = this.ctx.rdb.statement('UPDATE hub SET next_gre_key = next_gre_key + 1 WHERE id = 1 RETURNING next_gre_key - 1 AS key').get() as { key: number } | undefined;
    return row?.key ?? this.notInitialized();
  }

  private notInitialized(): never {
    throw new TunnelError('ERR_NOT_INITIALIZED', 'the hub is not initialized; run `tunnel-hub init --endpoint ADDR` first');
  }
}
