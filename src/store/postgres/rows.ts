import type { QueryResult, QueryResultRow } from 'pg';
import type { ListedStoredToken, SessionRecord, StoredToken } from '../types.js';

/**
 * How the table classes (access.ts, sessions.ts, stored-tokens.ts) run a statement: the
 * store's `query`, with its deadline (counted from `since` when given), prepared once per
 * connection unless `prepared: false`.
 */
export type TableQuery = <R extends QueryResultRow>(
  text: string,
  values?: unknown[],
  options?: { prepared?: boolean; since?: number },
) => Promise<QueryResult<R>>;

// Rows as pg returns them: bigint columns arrive as strings and are parsed here, so only
// domain types leave the backend. Every ms or seconds value fits a double exactly.

/** An admin_sessions row as pg returns it: bigint columns arrive as strings. */
export interface SessionRow {
  jti: string;
  iat: string;
  exp: string;
  v: string;
  created_at_ms: string;
  revoked_at_ms: string | null;
  ip: string | null;
  user_agent: string | null;
  last_seen_at_ms: string | null;
}

/** A nullable bigint column as a number, or null. */
export const orNull = (value: string | null): number | null => (value === null ? null : Number(value));

export const toSession = (row: SessionRow): SessionRecord => ({
  jti: row.jti,
  iat: Number(row.iat),
  exp: Number(row.exp),
  v: Number(row.v),
  createdAtMs: Number(row.created_at_ms),
  revokedAtMs: orNull(row.revoked_at_ms),
  ip: row.ip,
  userAgent: row.user_agent,
  lastSeenAtMs: orNull(row.last_seen_at_ms),
});

/** A stored_tokens row as pg returns it: bigint columns arrive as strings. */
export interface StoredTokenRow {
  id: string;
  user_id: string;
  kid: string;
  sealed: Buffer;
  preview: string;
  expires_at_ms: string;
  saved_at_ms: string;
  created_at_ms: string;
}

/** A listing's row: the columns of `LISTED_COLUMNS`. */
export type ListedRow = Pick<StoredTokenRow, 'id' | 'user_id' | 'preview' | 'expires_at_ms' | 'saved_at_ms'>;

export const toListedStoredToken = (row: ListedRow): ListedStoredToken => ({
  id: row.id,
  userId: row.user_id,
  preview: row.preview,
  expiresAtMs: Number(row.expires_at_ms),
  savedAtMs: Number(row.saved_at_ms),
});

export const toStoredToken = (row: StoredTokenRow): StoredToken => ({
  id: row.id,
  userId: row.user_id,
  kid: row.kid,
  sealed: row.sealed,
  preview: row.preview,
  expiresAtMs: Number(row.expires_at_ms),
  savedAtMs: Number(row.saved_at_ms),
  createdAtMs: Number(row.created_at_ms),
});
