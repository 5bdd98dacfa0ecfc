import type Database from 'better-sqlite3';
import { auditWhere } from '../audit-filter.js';
import type {
  ApiKeyRecord,
  ApiKeyScope,
  AuditEntry,
  AuditQuery,
  NewApiKey,
  ThrottleRecord,
} from '../types.js';
import { PAGE_LIMIT } from './paging.js';

/**
 * A page of the audit trail, newest first: the table's own order (at_ms, id) walked backwards,
 * or, by action, `audit_log_action_at`'s (token reads: the table's, filtered). Exported for
 * the query-plan test.
 */
export const auditPageSql = (action: string | undefined): string =>
  `SELECT * FROM audit_log ${auditWhere(action, '@action')} ORDER BY at_ms DESC, id DESC ${PAGE_LIMIT}`;

interface ApiKeyRow {
  id: string;
  name: string;
  scopes: string;
  key_hash: string;
  created_at_ms: number;
  last_used_at_ms: number | null;
  revoked_at_ms: number | null;
}

interface AuditRow {
  id: string;
  at_ms: number;
  action: string;
  actor: string;
  ip: string | null;
  user_agent: string | null;
  target: string | null;
  reason: string | null;
}

interface ThrottleRow {
  failures: number;
  window_start_ms: number;
  locked_until_ms: number;
  lockouts: number;
}

const toApiKey = (row: ApiKeyRow): ApiKeyRecord => ({
  id: row.id,
  name: row.name,
  scopes: JSON.parse(row.scopes) as ApiKeyScope[],
  keyHash: row.key_hash,
  createdAtMs: row.created_at_ms,
  lastUsedAtMs: row.last_used_at_ms,
  revokedAtMs: row.revoked_at_ms,
});

const toAudit = (row: AuditRow): AuditEntry => ({
  id: row.id,
  atMs: row.at_ms,
  action: row.action,
  actor: row.actor,
  ip: row.ip,
  userAgent: row.user_agent,
  target: row.target,
  reason: row.reason,
});

const toThrottle = (row: ThrottleRow): ThrottleRecord => ({
  failures: row.failures,
  windowStartMs: row.window_start_ms,
  lockedUntilMs: row.locked_until_ms,
  lockouts: row.lockouts,
});

/**
 * The embedded store's API keys, audit trail and throttles. Each function is one statement
 * (or one transaction) on the store's connection, so atomic like the rest of the store; the
 * store wraps them for errors and events.
 */
export class SqliteAccessTables {
  constructor(private readonly statement: (sql: string) => Database.Statement) {}

  createApiKey(key: NewApiKey): void {
    this.statement(
      `INSERT INTO api_keys (id, name, scopes, key_hash, created_at_ms)
         VALUES (@id, @name, @scopes, @keyHash, @createdAtMs)`,
    ).run({ ...key, scopes: JSON.stringify(key.scopes) });
  }

  findApiKeyByHash(keyHash: string): ApiKeyRecord | null {
    const row = this.statement('SELECT * FROM api_keys WHERE key_hash = ?').get(keyHash) as
      | ApiKeyRow
      | undefined;
    return row === undefined ? null : toApiKey(row);
  }

  listApiKeys(): ApiKeyRecord[] {
    const rows = this.statement(
      'SELECT * FROM api_keys WHERE revoked_at_ms IS NULL ORDER BY created_at_ms DESC, id DESC',
    ).all() as ApiKeyRow[];
    return rows.map(toApiKey);
  }

  revokeApiKey(id: string, nowMs: number): boolean {
    return (
      this.statement('UPDATE api_keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL').run(
        nowMs,
        id,
      ).changes > 0
    );
  }

  touchApiKey(id: string, atMs: number): void {
    this.statement(
      'UPDATE api_keys SET last_used_at_ms = MAX(COALESCE(last_used_at_ms, 0), ?) WHERE id = ?',
    ).run(atMs, id);
  }

  appendAudit(entry: AuditEntry): void {
    // Positional, as the stored-token insert: one per audited request.
    this.statement(
      `INSERT INTO audit_log (id, at_ms, action, actor, ip, user_agent, target, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      entry.id,
      entry.atMs,
      entry.action,
      entry.actor,
      entry.ip,
      entry.userAgent,
      entry.target,
      entry.reason,
    );
  }

  listAudit(query: AuditQuery): { items: AuditEntry[]; total: number } {
    const params = { action: query.action, limit: query.limit, offset: query.offset };
    const { total } = this.statement(
      `SELECT count(*) AS total FROM audit_log ${auditWhere(query.action, '@action')}`,
    ).get(params) as { total: number };
    const rows = this.statement(auditPageSql(query.action)).all(params) as AuditRow[];
    return { items: rows.map(toAudit), total };
  }

  purgeAudit(beforeMs: number): number {
    return this.statement('DELETE FROM audit_log WHERE at_ms < ?').run(beforeMs).changes;
  }

  addFailure(subject: string, nowMs: number, windowMs: number): ThrottleRecord {
    const row = this.statement(
      `INSERT INTO throttles (subject, failures, window_start_ms, locked_until_ms, lockouts, updated_at_ms)
         VALUES (@subject, 1, @nowMs, 0, 0, @nowMs)
       ON CONFLICT (subject) DO UPDATE SET
         failures = CASE WHEN window_start_ms <= @nowMs - @windowMs THEN 1 ELSE failures + 1 END,
         window_start_ms = CASE WHEN window_start_ms <= @nowMs - @windowMs THEN @nowMs ELSE window_start_ms END,
         updated_at_ms = @nowMs
       RETURNING failures, window_start_ms, locked_until_ms, lockouts`,
    ).get({ subject, nowMs, windowMs }) as ThrottleRow;
    return toThrottle(row);
  }

  lockOut(subject: string, untilMs: number, nowMs: number): void {
    this.statement(
      `INSERT INTO throttles (subject, failures, window_start_ms, locked_until_ms, lockouts, updated_at_ms)
         VALUES (@subject, 0, @nowMs, @untilMs, 1, @nowMs)
       ON CONFLICT (subject) DO UPDATE SET
         failures = 0, window_start_ms = @nowMs, locked_until_ms = MAX(locked_until_ms, @untilMs),
         lockouts = lockouts + 1, updated_at_ms = @nowMs`,
    ).run({ subject, untilMs, nowMs });
  }

  findThrottle(subject: string): ThrottleRecord | null {
    const row = this.statement(
      'SELECT failures, window_start_ms, locked_until_ms, lockouts FROM throttles WHERE subject = ?',
    ).get(subject) as ThrottleRow | undefined;
    return row === undefined ? null : toThrottle(row);
  }

  purgeThrottles(beforeMs: number): number {
    return this.statement(
      'DELETE FROM throttles WHERE updated_at_ms < @beforeMs AND locked_until_ms < @beforeMs',
    ).run({
      beforeMs,
    }).changes;
  }
}
