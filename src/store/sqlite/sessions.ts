import type Database from 'better-sqlite3';
import { secondsFromMs } from '../../clock.js';
import type { NewSession, SessionRecord } from '../types.js';
import { type SessionRow, toSession } from './rows.js';

/**
 * The embedded store's admin key hash, session version and admin sessions. Each function is one
 * statement (or two, for the admin key's first hash) on the store's connection; the store decides
 * how each runs and wraps them for errors, and publishes the events of those that change sessions.
 */
export class SqliteSessionTables {
  constructor(private readonly statement: (sql: string) => Database.Statement) {}

  getAdminKeyHash(): string | null {
    const row = this.statement("SELECT value FROM settings WHERE key = 'admin_key_hash'").get() as
      | { value: string }
      | undefined;
    return row?.value ?? null;
  }

  initAdminKeyHash(hash: string): string {
    this.statement(
      "INSERT INTO settings (key, value) VALUES ('admin_key_hash', ?) ON CONFLICT (key) DO NOTHING",
    ).run(hash);
    return (
      this.statement("SELECT value FROM settings WHERE key = 'admin_key_hash'").get() as { value: string }
    ).value;
  }

  rotateAdminKeyHash(hash: string): void {
    this.statement(
      "INSERT INTO settings (key, value) VALUES ('admin_key_hash', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(hash);
  }

  getSessionVersion(): number {
    return (this.statement("SELECT value FROM meta WHERE key = 'token_version'").get() as { value: number })
      .value;
  }

  bumpSessionVersion(): number {
    return (
      this.statement(
        "UPDATE meta SET value = value + 1 WHERE key = 'token_version' RETURNING value",
      ).get() as {
        value: number;
      }
    ).value;
  }

  createSession(session: NewSession): void {
    this.statement(
      `INSERT INTO admin_sessions (jti, iat, exp, v, created_at_ms, ip, user_agent)
           VALUES (@jti, @iat, @exp, @v, @createdAtMs, @ip, @userAgent)`,
    ).run(session);
  }

  findSession(jti: string): SessionRecord | null {
    const row = this.statement('SELECT * FROM admin_sessions WHERE jti = ?').get(jti) as
      | SessionRow
      | undefined;
    return row === undefined ? null : toSession(row);
  }

  listSessions(): SessionRecord[] {
    return (
      this.statement(
        'SELECT * FROM admin_sessions ORDER BY created_at_ms DESC, jti DESC',
      ).all() as SessionRow[]
    ).map(toSession);
  }

  listRevokedSessions(nowSeconds: number): string[] {
    return (
      this.statement('SELECT jti FROM admin_sessions WHERE revoked_at_ms IS NOT NULL AND exp > ?').all(
        nowSeconds,
      ) as { jti: string }[]
    ).map((row) => row.jti);
  }

  revokeSession(jti: string, nowMs: number): boolean {
    return (
      this.statement(
        `UPDATE admin_sessions SET revoked_at_ms = @nowMs
           WHERE jti = @jti AND revoked_at_ms IS NULL AND exp > @nowSeconds
             AND v = (SELECT value FROM meta WHERE key = 'token_version')`,
      ).run({ jti, nowMs, nowSeconds: secondsFromMs(nowMs) }).changes > 0
    );
  }

  revokeOtherSessions(exceptJti: string | null, nowMs: number): string[] {
    const rows = this.statement(
      `UPDATE admin_sessions SET revoked_at_ms = @nowMs
           WHERE revoked_at_ms IS NULL AND exp > @nowSeconds AND jti IS NOT @exceptJti
             AND v = (SELECT value FROM meta WHERE key = 'token_version')
           RETURNING jti`,
    ).all({ nowMs, nowSeconds: secondsFromMs(nowMs), exceptJti }) as { jti: string }[];
    return rows.map((row) => row.jti);
  }

  touchSession(jti: string, atMs: number): void {
    this.statement(
      'UPDATE admin_sessions SET last_seen_at_ms = MAX(COALESCE(last_seen_at_ms, 0), ?) WHERE jti = ?',
    ).run(atMs, jti);
  }

  purgeSessions(beforeSeconds: number): number {
    return this.statement('DELETE FROM admin_sessions WHERE exp < ?').run(beforeSeconds).changes;
  }
}
