import type { RegistryContext } from './registry-context.js';

/** One audited admin or auth action. `detail` never holds tokens or private keys. */
export interface AuditEntry {
  readonly id: number;
  readonly at: number;
  readonly action: string;
  readonly subject: string;
  readonly detail: Record<string, unknown> | null;
}

interface AuditRow {
  id: number;
  at: number;
  action: string;
  subject: string;
  detail: string | null;
}

/** The append-only record of who changed what, written inside each change's own transaction. */
export class AuditLog {
  constructor(private readonly ctx: RegistryContext) {}

  /** Appends an entry; call it inside the transaction of the change it describes. */
  async record(action: string, subject: string, detail?: Record<string, unknown>): Promise<void> {
    await this.ctx.sql.run('INSERT INTO audit_log (at, action, subject, detail) VALUES (?, ?, ?, ?)',
      this.ctx.clock(), action, subject, detail === undefined ? null : JSON.stringify(detail));
  }

  /** The most recent entries, newest first. */
  async list(options: { limit?: number } = {}): Promise<AuditEntry[]> {
    const rows = await this.ctx.sql.all<AuditRow>('SELECT id, at, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT ?', options.limit ?? 100);
    return rows.map((row) => ({ ...row, detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>) }));
  }
}
