import { TunnelError } from '../../shared/errors.js';
import { isIpv4Address } from '../../shared/net/ipv4-address.js';
import type { AuditLog } from './audit-log.js';
import type { RegistryContext } from './registry-context.js';

/** One hub of the cluster, as `tunnel-hub hubs --json` prints it. */
export interface HubRecord {
  readonly name: string;
  readonly endpoint: string;
  /** `SHA256:…` of its SSH host key: members pin it, and it is the audience of their client tokens. */
  readonly hostKeyFingerprint: string;
  /** `ws[s]://ENDPOINT:PORT` once it serves, else null. */
  readonly wsUrl: string | null;
  readonly sshPort: number | null;
  /** `up` while it serves and its heartbeat is fresh. */
  readonly state: 'up' | 'down';
  /** Members whose session it serves now. */
  readonly members: number;
  readonly lastHeartbeat: number | null;
  readonly startedAt: number | null;
  /** It encrypts (`serve --encrypt` on): a hub<->hub link is encrypted when both of its hubs do. */
  readonly encrypt: boolean;
}

/** What a hub says about itself when it joins. */
export interface HubIdentity {
  readonly name: string;
  readonly endpoint: string;
  readonly hostKeyFingerprint: string;
}

interface HubRow {
  name: string;
  endpoint: string;
  hostKeyFingerprint: string;
  wsUrl: string | null;
  sshPort: number | null;
  startedAt: number | null;
  heartbeatAt: number | null;
  members: number;
  encrypt: number;
}

const SELECT_HUBS = `
  SELECT h.name, h.endpoint, h.host_key_fingerprint AS "hostKeyFingerprint", h.ws_url AS "wsUrl", h.ssh_port AS "sshPort",
         h.started_at AS "startedAt", h.heartbeat_at AS "heartbeatAt", h.encrypt,
         (SELECT count(*) FROM member_sessions s WHERE s.hub_name = h.name) AS members
  FROM hubs h`;

// Lowercase, like peer names; unlike them, `hub` is a fine name for a hub.
const HUB_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** Returns `name` when it is a valid hub name, else ERR_INVALID_ARGUMENT saying why. */
export function validateHubName(name: string): string {
  if (!HUB_NAME.test(name)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `invalid hub name "${name.slice(0, 64)}": use 1-31 lowercase letters, digits or '-', starting with a letter or digit`);
  }
  return name;
}

/**
 * The hubs of a cluster (table from CLUSTER_MIGRATION): who they are, where they listen, and
 * whether they are alive. A hub is `up` while it serves and wrote a heartbeat within `freshMs`.
 */
export class HubDirectoryStore {
  constructor(private readonly ctx: RegistryContext, private readonly audit: AuditLog) {}

  /**
   * Adds this hub to the cluster, or updates its endpoint when it joins again from the same state
   * folder (same host key). A name another hub holds is refused (ERR_HUB_EXISTS), changing nothing.
   */
  async join(hub: HubIdentity): Promise<{ created: boolean; changedEndpoint: boolean }> {
    validateHubName(hub.name);
    if (!isIpv4Address(hub.endpoint)) {
      throw new TunnelError('ERR_INVALID_ADDRESS', `hub endpoint "${hub.endpoint}" is not an IPv4 address (e.g. 198.51.100.2)`);
    }
    return this.ctx.transaction((tx) => tx.hubs.write(hub));
  }

  /** Marks the hub as serving at `wsUrl` and `sshPort`, with a fresh heartbeat, encrypting or not. */
  async serving(name: string, listen: { wsUrl: string; sshPort: number; encrypt?: boolean }): Promise<void> {
    const now = this.ctx.clock();
    const { changes } = await this.ctx.sql.run('UPDATE hubs SET ws_url = ?, ssh_port = ?, started_at = ?, heartbeat_at = ?, encrypt = ? WHERE name = ?',
      listen.wsUrl, listen.sshPort, now, now, listen.encrypt === true ? 1 : 0, name);
    if (changes === 0) throw notFound(name);
  }

  /** Refreshes the hub's heartbeat. */
  async heartbeat(name: string): Promise<void> {
    const { changes } = await this.ctx.sql.run('UPDATE hubs SET heartbeat_at = ? WHERE name = ?', this.ctx.clock(), name);
    if (changes === 0) throw notFound(name);
  }

  /** Marks the hub as stopped (a clean shutdown): down at once, whatever its last heartbeat. */
  async stopped(name: string): Promise<void> {
    await this.ctx.sql.run('UPDATE hubs SET started_at = NULL WHERE name = ?', name);
  }

  /** Every hub by name, `up` when it serves and its heartbeat is at most `freshMs` old. */
  async list(freshMs: number): Promise<HubRecord[]> {
    const rows = await this.ctx.sql.all<HubRow>(`${SELECT_HUBS} ORDER BY h.name`);
    const now = this.ctx.clock();
    return rows.map((row) => record(row, now, freshMs));
  }

  /** The hub named `name`, or ERR_HUB_NOT_FOUND. */
  async require(name: string, freshMs: number): Promise<HubRecord> {
    const row = await this.ctx.sql.get<HubRow>(`${SELECT_HUBS} WHERE h.name = ?`, name);
    if (!row) throw notFound(name);
    return record(row, this.ctx.clock(), freshMs);
  }

  private async write(hub: HubIdentity): Promise<{ created: boolean; changedEndpoint: boolean }> {
    const current = await this.ctx.sql.get<{ endpoint: string; fingerprint: string }>(
      'SELECT endpoint, host_key_fingerprint AS fingerprint FROM hubs WHERE name = ?', hub.name);
    if (current && current.fingerprint !== hub.hostKeyFingerprint) {
      throw new TunnelError('ERR_HUB_EXISTS', `another hub (host key ${current.fingerprint}) is already named "${hub.name}" in this cluster; choose another --hub-name`);
    }
    if (current?.endpoint === hub.endpoint) return { created: false, changedEndpoint: false };
    if (current) {
      await this.ctx.sql.run('UPDATE hubs SET endpoint = ? WHERE name = ?', hub.endpoint, hub.name);
    } else {
      await this.ctx.sql.run('INSERT INTO hubs (name, endpoint, host_key_fingerprint, created_at) VALUES (?, ?, ?, ?)',
        hub.name, hub.endpoint, hub.hostKeyFingerprint, this.ctx.clock());
    }
    await this.audit.record(current ? 'hub.endpoint' : 'hub.join', hub.name, { endpoint: hub.endpoint, previous: current?.endpoint ?? null });
    return { created: current === undefined, changedEndpoint: current !== undefined };
  }
}

function record(row: HubRow, now: number, freshMs: number): HubRecord {
  const up = row.startedAt !== null && row.heartbeatAt !== null && now - row.heartbeatAt <= freshMs;
  return {
    name: row.name,
    endpoint: row.endpoint,
    hostKeyFingerprint: row.hostKeyFingerprint,
    wsUrl: row.wsUrl,
    sshPort: row.sshPort,
    state: up ? 'up' : 'down',
    members: row.members,
    lastHeartbeat: row.heartbeatAt,
    startedAt: row.startedAt,
    encrypt: row.encrypt === 1,
  };
}

function notFound(name: string): TunnelError {
  return new TunnelError('ERR_HUB_NOT_FOUND', `no hub named "${name}" in this cluster; see \`tunnel-hub hubs\``);
}
