import type { ListedStoredToken, SessionRecord, StoredToken } from '../types.js';

/** A row of `admin_sessions` as better-sqlite3 returns it. */
export interface SessionRow {
  jti: string;
  iat: number;
  exp: number;
  v: number;
  created_at_ms: number;
  revoked_at_ms: number | null;
  ip: string | null;
  user_agent: string | null;
  last_seen_at_ms: number | null;
}

/** A row of `stored_tokens` as better-sqlite3 returns it. */
export interface StoredTokenRow {
  id: string;
  user_id: string;
  kid: string;
  sealed: Buffer;
  preview: string;
  expires_at_ms: number;
  saved_at_ms: number;
  created_at_ms: number;
}

export const toSession = (row: SessionRow): SessionRecord => ({
  jti: row.jti,
  iat: row.iat,
  exp: row.exp,
  v: row.v,
  createdAtMs: row.created_at_ms,
  revokedAtMs: row.revoked_at_ms,
  ip: row.ip,
  userAgent: row.user_agent,
  lastSeenAtMs: row.last_seen_at_ms,
});

/** A listing's row, its columns in `LISTED_COLUMNS` order. */
export type ListedRow = [id: string, userId: string, preview: string, expiresAtMs: number, savedAtMs: number];

export const toListedStoredToken = (row: ListedRow): ListedStoredToken => ({
  id: row[0],
  userId: row[1],
  preview: row[2],
  expiresAtMs: row[3],
  savedAtMs: row[4],
});

export const toStoredToken = (row: StoredTokenRow): StoredToken => ({
  id: row.id,
  userId: row.user_id,
  kid: row.kid,
  sealed: row.sealed,
  preview: row.preview,
  expiresAtMs: row.expires_at_ms,
  savedAtMs: row.saved_at_ms,
  createdAtMs: row.created_at_ms,
});
