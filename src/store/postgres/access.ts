import { auditWhere } from '../audit-filter.js';
import type {
  ApiKeyRecord,
  ApiKeyScope,
  AuditEntry,
  AuditQuery,
  NewApiKey,
  ThrottleRecord,
} from '../types.js';
import { orNull, type TableQuery } from './rows.js';
import type { SqlQuery } from './stored-token-queries.js';

/**
 * A CTE that makes its statement's commit not wait for Postgres to flush its log to disk (the
 * entries of token reads, written by the read's own statement): `set_config(..., true)` is SET
 * LOCAL, for that transaction only, and a volatile call in a CTE is run, not inlined away. The
 * commit is still made, and seen by every reader, before the statement returns; Postgres's WAL
 * writer flushes it within three `wal_writer_delay`s (600 ms by default), or sooner with the
 * next commit that waits. Until then a crash of the database server, not of Tessera, may take
 * it, as a power loss may take SQLite's last commits (`synchronous = NORMAL`).
 */
export const UNFLUSHED = `unflushed AS (SELECT set_config('synchronous_commit', 'off', true))`;

/**
 * An INSERT of audit entries given as eight arrays (`auditColumns`) from parameter `$first`.
 * `unflushed` joins the UNFLUSHED CTE so that it runs; `join` and `where` are added to the
 * entries' FROM and WHERE; `target` is the SQL of the target column (the entry's own by default).
 */
export function insertAuditSql(
  s: string,
  first: number,
  { unflushed = false, join = '', where = '', target = 'entry.target' } = {},
): string {
  const $ = (i: number) => `$${first + i}`;
  return `INSERT INTO ${s}.audit_log (id, at_ms, action, actor, ip, user_agent, target, reason)
       SELECT entry.id, entry.at_ms, entry.action, entry.actor, entry.ip, entry.user_agent, ${target}, entry.reason
       FROM unnest(${$(0)}::text[], ${$(1)}::bigint[], ${$(2)}::text[], ${$(3)}::text[],
                   ${$(4)}::text[], ${$(5)}::text[], ${$(6)}::text[], ${$(7)}::text[])
         AS entry (id, at_ms, action, actor, ip, user_agent, target, reason)${unflushed ? ' CROSS JOIN unflushed' : ''}${join === '' ? '' : ` ${join}`}${where === '' ? '' : ` WHERE ${where}`}`;
}

/** The entries as the eight arrays `insertAuditSql` takes, in its order. */
export function auditColumns(entries: readonly AuditEntry[]): unknown[] {
  const column = <K extends keyof AuditEntry>(field: K) => entries.map((entry) => entry[field]);
  return [
    column('id'),
    column('atMs'),
    column('action'),
    column('actor'),
    column('ip'),
    column('userAgent'),
    column('target'),
    column('reason'),
  ];
}

interface ApiKeyRow {
  id: string;
  name: string;
  scopes: string[];
  key_hash: string;
  created_at_ms: string;
  last_used_at_ms: string | null;
  revoked_at_ms: string | null;
}

interface AuditRow {
  id: string;
  at_ms: string;
  action: string;
  actor: string;
  ip: string | null;
  user_agent: string | null;
  target: string | null;
  reason: string | null;
}

interface ThrottleRow {
  failures: number;
  window_start_ms: string;
  locked_until_ms: string;
  lockouts: number;
}

const toApiKey = (row: ApiKeyRow): ApiKeyRecord => ({
  id: row.id,
  name: row.name,
  scopes: row.scopes as ApiKeyScope[],
  keyHash: row.key_hash,
  createdAtMs: Number(row.created_at_ms),
  lastUsedAtMs: orNull(row.last_used_at_ms),
  revokedAtMs: orNull(row.revoked_at_ms),
});

const toAudit = (row: AuditRow): AuditEntry => ({
  id: row.id,
  atMs: Number(row.at_ms),
  action: row.action,
  actor: row.actor,
  ip: row.ip,
  userAgent: row.user_agent,
  target: row.target,
  reason: row.reason,
});

const toThrottle = (row: ThrottleRow): ThrottleRecord => ({
  failures: row.failures,
  windowStartMs: Number(row.window_start_ms),
  lockedUntilMs: Number(row.locked_until_ms),
  lockouts: row.lockouts,
});

/**
 * A page of the audit trail, newest first, and the total of its filter, in one statement (one
 * snapshot). By action, `audit_log_action_at` (a partial index: see `auditWhere`). Exported
 * for the plan test.
 */
export function auditPageQuery(s: string, query: AuditQuery): SqlQuery {
  const values: unknown[] = [query.limit, query.offset];
  if (query.action !== undefined) values.push(query.action);
  return {
    text: `WITH matching AS (SELECT * FROM ${s}.audit_log ${auditWhere(query.action, '$3')}),
         page AS (SELECT * FROM matching ORDER BY at_ms DESC, id DESC LIMIT $1 OFFSET $2)
       SELECT page.*, (SELECT count(*) FROM matching) AS total FROM (SELECT 1) AS one
       LEFT JOIN page ON true`,
    values,
  };
}

/**
 * API keys, the audit trail and throttles on Postgres: each method one statement. The ones
 * that tell other instances (revoking a key, locking out) take the NOTIFY to send in the same
 * statement, as `notify`: SQL for `pg_notify(...)` over the changed row, or null for none.
 */
export class PostgresAccessTables {
  constructor(
    private readonly query: TableQuery,
    /** The quoted schema. */
    private readonly s: string,
  ) {}

  async createApiKey(key: NewApiKey): Promise<void> {
    await this.query(
      `INSERT INTO ${this.s}.api_keys (id, name, scopes, key_hash, created_at_ms) VALUES ($1, $2, $3, $4, $5)`,
      [key.id, key.name, key.scopes, key.keyHash, key.createdAtMs],
    );
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const { rows } = await this.query<ApiKeyRow>(`SELECT * FROM ${this.s}.api_keys WHERE key_hash = $1`, [
      keyHash,
    ]);
    return rows[0] === undefined ? null : toApiKey(rows[0]);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const { rows } = await this.query<ApiKeyRow>(
      `SELECT * FROM ${this.s}.api_keys WHERE revoked_at_ms IS NULL ORDER BY created_at_ms DESC, id DESC`,
    );
    return rows.map(toApiKey);
  }

  /** `$1` nowMs, `$2` id, then the NOTIFY's own parameters from `$3`. */
  revokeApiKeySql(notify: string): string {
    return `WITH revoked AS (
        UPDATE ${this.s}.api_keys SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL RETURNING id)
      SELECT ${notify} FROM revoked`;
  }

  async touchApiKeys(seen: Map<string, number>): Promise<void> {
    if (seen.size === 0) return;
    const entries = [...seen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await this.query(
      `UPDATE ${this.s}.api_keys AS key SET last_used_at_ms = GREATEST(key.last_used_at_ms, seen.at_ms)
       FROM unnest($1::text[], $2::bigint[]) AS seen (id, at_ms) WHERE key.id = seen.id`,
      [entries.map(([id]) => id), entries.map(([, atMs]) => atMs)],
    );
  }

  /** One statement for the whole batch: all the entries or none. */
  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.query(insertAuditSql(this.s, 1), auditColumns(entries));
  }

  async listAudit(query: AuditQuery): Promise<{ items: AuditEntry[]; total: number }> {
    const { text, values } = auditPageQuery(this.s, query);
    const { rows } = await this.query<AuditRow & { total: string }>(text, values);
    return {
      total: Number(rows[0]?.total ?? 0),
      items: rows.filter((row) => row.id !== null).map(toAudit),
    };
  }

  async purgeAudit(beforeMs: number): Promise<number> {
    const { rowCount } = await this.query(`DELETE FROM ${this.s}.audit_log WHERE at_ms < $1`, [beforeMs]);
    return rowCount ?? 0;
  }

  async addFailure(subject: string, nowMs: number, windowMs: number): Promise<ThrottleRecord> {
    const { rows } = await this.query<ThrottleRow>(
      `INSERT INTO ${this.s}.throttles AS t (subject, failures, window_start_ms, locked_until_ms, lockouts, updated_at_ms)
         VALUES ($1, 1, $2, 0, 0, $2)
       ON CONFLICT (subject) DO UPDATE SET
         failures = CASE WHEN t.window_start_ms <= $2 - $3 THEN 1 ELSE t.failures + 1 END,
         window_start_ms = CASE WHEN t.window_start_ms <= $2 - $3 THEN $2 ELSE t.window_start_ms END,
         updated_at_ms = $2
       RETURNING failures, window_start_ms, locked_until_ms, lockouts`,
      [subject, nowMs, windowMs],
    );
    return toThrottle(rows[0] as ThrottleRow);
  }

  /** `$1` subject, `$2` untilMs, `$3` nowMs, then the NOTIFY's own parameters from `$4`. */
  lockOutSql(notify: string): string {
    return `WITH locked AS (
        INSERT INTO ${this.s}.throttles AS t (subject, failures, window_start_ms, locked_until_ms, lockouts, updated_at_ms)
          VALUES ($1, 0, $3, $2, 1, $3)
        ON CONFLICT (subject) DO UPDATE SET
          failures = 0, window_start_ms = $3, locked_until_ms = GREATEST(t.locked_until_ms, $2),
          lockouts = t.lockouts + 1, updated_at_ms = $3
        RETURNING subject)
      SELECT ${notify} FROM locked`;
  }

  async findThrottle(subject: string): Promise<ThrottleRecord | null> {
    const { rows } = await this.query<ThrottleRow>(
      `SELECT failures, window_start_ms, locked_until_ms, lockouts FROM ${this.s}.throttles WHERE subject = $1`,
      [subject],
    );
    return rows[0] === undefined ? null : toThrottle(rows[0]);
  }

  async purgeThrottles(beforeMs: number): Promise<number> {
    const { rowCount } = await this.query(
      `DELETE FROM ${this.s}.throttles WHERE updated_at_ms < $1 AND locked_until_ms < $1`,
      [beforeMs],
    );
    return rowCount ?? 0;
  }
}
