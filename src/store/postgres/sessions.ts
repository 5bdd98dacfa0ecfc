import type { SessionRecord } from '../types.js';
import { type SessionRow, type TableQuery, toSession } from './rows.js';

/**
 * The admin key hash, session version and admin sessions on Postgres: each method one
 * statement. A change that sessions must hear of NOTIFYs in that same statement, so for those
 * this gives the statement around the store's `pg_notify(...)`, and the store runs it through
 * the feed; purging runs as repeated bounded DELETEs (the store's `deleteInBatches`), so for
 * that this gives the statement, whose last parameter is the batch size.
 */
export class PostgresSessionTables {
  constructor(
    private readonly query: TableQuery,
    /** The quoted schema. */
    private readonly s: string,
  ) {}

  async getAdminKeyHash(): Promise<string | null> {
    const { rows } = await this.query<{ value: string }>(
      `SELECT value FROM ${this.s}.settings WHERE key = 'admin_key_hash'`,
    );
    return rows[0]?.value ?? null;
  }

  async initAdminKeyHash(hash: string): Promise<string> {
    // DO UPDATE (to itself) rather than DO NOTHING: it locks and returns the row in force even
    // when a concurrent writer committed it after this statement's snapshot was taken.
    const { rows } = await this.query<{ value: string }>(
      `INSERT INTO ${this.s}.settings (key, value) VALUES ('admin_key_hash', $1)
       ON CONFLICT (key) DO UPDATE SET value = settings.value RETURNING value`,
      [hash],
    );
    return (rows[0] as { value: string }).value;
  }

  /** `$1` the hash; `notify` may use parameters from `$2`. */
  rotateAdminKeyHashSql(notify: string): string {
    return `WITH rotated AS (
             INSERT INTO ${this.s}.settings (key, value) VALUES ('admin_key_hash', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value RETURNING key)
           SELECT ${notify} FROM rotated`;
  }

  async getSessionVersion(): Promise<number> {
    const { rows } = await this.query<{ value: string }>(
      `SELECT value FROM ${this.s}.counters WHERE name = 'token_version'`,
    );
    return Number(rows[0]?.value);
  }

  /** Returns the new version as `value`; `notify` may use it, and parameters from `$1`. */
  bumpSessionVersionSql(notify: string): string {
    return `WITH bumped AS (
             UPDATE ${this.s}.counters SET value = value + 1 WHERE name = 'token_version' RETURNING value)
           SELECT value, ${notify}
           FROM bumped`;
  }

  /**
   * `$1` to `$7` jti, iat, exp, v, createdAtMs, ip, userAgent; `notify` may use the created
   * row's jti, iat, exp and v, and parameters from `$8`.
   */
  createSessionSql(notify: string): string {
    return `WITH created AS (
             INSERT INTO ${this.s}.admin_sessions (jti, iat, exp, v, created_at_ms, ip, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING jti, iat, exp, v)
           SELECT ${notify}
             FROM created`;
  }

  async findSession(jti: string): Promise<SessionRecord | null> {
    const { rows } = await this.query<SessionRow>(`SELECT * FROM ${this.s}.admin_sessions WHERE jti = $1`, [
      jti,
    ]);
    return rows[0] === undefined ? null : toSession(rows[0]);
  }

  async listSessions(): Promise<SessionRecord[]> {
    const { rows } = await this.query<SessionRow>(
      `SELECT * FROM ${this.s}.admin_sessions ORDER BY created_at_ms DESC, jti DESC`,
    );
    return rows.map(toSession);
  }

  async listRevokedSessions(nowSeconds: number): Promise<string[]> {
    const { rows } = await this.query<{ jti: string }>(
      `SELECT jti FROM ${this.s}.admin_sessions WHERE revoked_at_ms IS NOT NULL AND exp > $1`,
      [nowSeconds],
    );
    return rows.map((row) => row.jti);
  }

  /** "Active" as the port defines it, for an UPDATE whose `$1` is nowMs and `$2` now in seconds. */
  private get activeAt(): string {
    return `revoked_at_ms IS NULL AND exp > $2
      AND v = (SELECT value FROM ${this.s}.counters WHERE name = 'token_version')`;
  }

  /** `$1` nowMs, `$2` now in seconds, `$3` the jti; `notify` may use the jti, and parameters from `$4`. */
  revokeSessionSql(notify: string): string {
    // Concurrent revokes queue on the row lock; after the first commits, the others re-check
    // `revoked_at_ms IS NULL`, find it false and change nothing.
    return `WITH revoked AS (
             UPDATE ${this.s}.admin_sessions SET revoked_at_ms = $1 WHERE jti = $3 AND ${this.activeAt} RETURNING jti)
           SELECT ${notify}
           FROM revoked`;
  }

  /**
   * `$1` nowMs, `$2` now in seconds, `$3` the jti kept, `$5` the chunk size in bytes, `$6` the
   * statement's id; returns a row per chunk, its `id` (`<statement id>#<chunk>`) and `jtis`.
   * `notify` may use the chunk's `id` and `jti`s, and `$4`.
   */
  revokeOtherSessionsSql(notify: string): string {
    return `WITH revoked AS (
             UPDATE ${this.s}.admin_sessions SET revoked_at_ms = $1
             WHERE jti IS DISTINCT FROM $3 AND ${this.activeAt} RETURNING jti),
           sized AS (
             SELECT jti, $6::text || '#' || (sum(octet_length(to_json(jti)::text) + 1) OVER (ORDER BY jti) / $5) AS id
             FROM revoked)
           SELECT id, array_agg(jti) AS jtis,
             ${notify}
           FROM sized GROUP BY id`;
  }

  async touchSessions(seen: Map<string, number>): Promise<void> {
    if (seen.size === 0) return;
    // Sorted, so concurrent batches lock rows in one order and cannot deadlock each other.
    const entries = [...seen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await this.query(
      `UPDATE ${this.s}.admin_sessions AS session
       SET last_seen_at_ms = GREATEST(session.last_seen_at_ms, seen.at_ms)
       FROM unnest($1::text[], $2::bigint[]) AS seen (jti, at_ms) WHERE session.jti = seen.jti`,
      [entries.map(([jti]) => jti), entries.map(([, atMs]) => atMs)],
    );
  }

  /** `$1` beforeSeconds, `$2` the batch size. */
  purgeSessionsSql(): string {
    return `DELETE FROM ${this.s}.admin_sessions WHERE jti IN (
         SELECT jti FROM ${this.s}.admin_sessions WHERE exp < $1 LIMIT $2)`;
  }
}
