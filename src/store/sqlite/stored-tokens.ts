import type Database from 'better-sqlite3';
import type { StoredToken, StoredTokenPage, StoredTokenPatch, StoredTokenQuery } from '../types.js';
import { type ListedRow, type StoredTokenRow, toListedStoredToken, toStoredToken } from './rows.js';
import {
  countStoredTokensSql,
  currentStoredTokenSql,
  hourParams,
  storedTokenPageSql,
} from './stored-token-queries.js';

/**
 * The embedded store's stored tokens. Each function is one statement (a listing: its total and
 * its page) on the store's connection; the store decides how each runs (in the turn's write
 * batch, in the turn's read transaction, or on its own) and wraps them for errors.
 */
export class SqliteStoredTokenTables {
  constructor(private readonly statement: (sql: string) => Database.Statement) {}

  insertStoredToken(token: StoredToken): void {
    // Positional: better-sqlite3 binds a named parameter by looking its name up on the object,
    // about 0.25 us each here; these statements run once per request.
    this.statement(
      `INSERT INTO stored_tokens (id, user_id, kid, sealed, preview, expires_at_ms, saved_at_ms, created_at_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      token.id,
      token.userId,
      token.kid,
      token.sealed,
      token.preview,
      token.expiresAtMs,
      token.savedAtMs,
      token.createdAtMs,
    );
  }

  findStoredToken(id: string): StoredToken | null {
    const row = this.statement('SELECT * FROM stored_tokens WHERE id = ?').get(id) as
      | StoredTokenRow
      | undefined;
    return row === undefined ? null : toStoredToken(row);
  }

  listStoredTokens(query: StoredTokenQuery): StoredTokenPage {
    const params = {
      userId: query.userId,
      nowMs: query.nowMs,
      limit: query.limit,
      offset: query.offset,
      ...hourParams(query.nowMs),
    };
    // The total and the page come from one snapshot: the turn's read transaction.
    const { total } = this.statement(countStoredTokensSql(query)).get(params) as {
      total: number;
    };
    // Rows as arrays: no object is built per row with its column names, only the listing's.
    const rows = this.statement(storedTokenPageSql(query)).raw(true).all(params) as ListedRow[];
    return { total, items: rows.map(toListedStoredToken) };
  }

  findCurrentStoredToken(nowMs: number, userId?: string): StoredToken | null {
    const current = this.statement(currentStoredTokenSql(userId !== undefined));
    const row = (userId === undefined ? current.get(nowMs) : current.get(nowMs, userId)) as
      | StoredTokenRow
      | undefined;
    return row === undefined ? null : toStoredToken(row);
  }

  updateStoredToken(id: string, patch: StoredTokenPatch): StoredToken | null {
    const row = this.statement(
      `UPDATE stored_tokens SET
             kid = COALESCE(@kid, kid), sealed = COALESCE(@sealed, sealed), preview = COALESCE(@preview, preview),
             expires_at_ms = COALESCE(@expiresAtMs, expires_at_ms), saved_at_ms = @savedAtMs
           WHERE id = @id RETURNING *`,
    ).get({
      id,
      kid: patch.kid ?? null,
      sealed: patch.sealed ?? null,
      preview: patch.preview ?? null,
      expiresAtMs: patch.expiresAtMs ?? null,
      savedAtMs: patch.savedAtMs,
    }) as StoredTokenRow | undefined;
    return row === undefined ? null : toStoredToken(row);
  }

  deleteStoredToken(id: string): boolean {
    return this.statement('DELETE FROM stored_tokens WHERE id = ?').run(id).changes > 0;
  }

  clearStoredTokens(): number {
    return this.statement('DELETE FROM stored_tokens').run().changes;
  }

  purgeStoredTokens(beforeMs: number): number {
    return this.statement('DELETE FROM stored_tokens WHERE expires_at_ms < ?').run(beforeMs).changes;
  }

  listStoredTokensSealedWith(kid: string, limit: number): StoredToken[] {
    // The LIMIT cast, as PAGE_LIMIT's: a bare parameter there recompiles the statement per call.
    return (
      this.statement('SELECT * FROM stored_tokens WHERE kid = ? LIMIT CAST(? AS INTEGER)').all(
        kid,
        limit,
      ) as StoredTokenRow[]
    ).map(toStoredToken);
  }

  countStoredTokensSealedWith(kid: string): number {
    return (this.statement('SELECT count(*) AS n FROM stored_tokens WHERE kid = ?').get(kid) as { n: number })
      .n;
  }

  resealStoredToken(id: string, fromKid: string, to: { kid: string; sealed: Buffer }): boolean {
    return (
      this.statement('UPDATE stored_tokens SET kid = ?, sealed = ? WHERE id = ? AND kid = ?').run(
        to.kid,
        to.sealed,
        id,
        fromKid,
      ).changes > 0
    );
  }
}
