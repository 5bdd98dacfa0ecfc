import type { StoredTokenQuery } from '../types.js';
import { PAGE_LIMIT } from './paging.js';

/** The listing order, served by `stored_tokens_saved` and `stored_tokens_user_saved`. */
const NEWEST_FIRST = 'ORDER BY saved_at_ms DESC, id DESC';

function filters(query: Pick<StoredTokenQuery, 'userId' | 'valid'>, expiresColumn: string): string {
  const where: string[] = [];
  if (query.userId !== undefined) where.push('user_id = @userId');
  if (query.valid === true) where.push(`${expiresColumn} > @nowMs`);
  if (query.valid === false) where.push(`${expiresColumn} <= @nowMs`);
  return where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
}

/*
 * Pages walk the saved-order index and filter as they go. Written `+expires_at_ms`, the expiry
 * test cannot use the expiry index: without ANALYZE statistics SQLite would otherwise pick that
 * index and sort every valid row before taking one page (or the one current token). Counts
 * keep the expiry index, which is what a count of valid rows wants.
 * Exported for the query-plan test, which checks these very statements.
 */

/** Hours (of `token_expiry_counts`) a validity total needs: `@hour`, `@hourStart`, `@hourEnd`. */
export const HOUR_MS = 3_600_000;
export const hourParams = (nowMs: number) => {
  const hour = Math.floor(nowMs / HOUR_MS);
  return { hour, hourStart: hour * HOUR_MS, hourEnd: (hour + 1) * HOUR_MS };
};

/**
 * The total: the sum of `token_expiry_counts` when unfiltered; by validity alone, the hours
 * wholly after (or before) now summed and the current hour's tokens counted over the expiry
 * index; with a user, a count over that user's index range.
 */
export const countStoredTokensSql = (query: Pick<StoredTokenQuery, 'userId' | 'valid'>): string => {
  if (query.userId !== undefined)
    return `SELECT COUNT(*) AS total FROM stored_tokens ${filters(query, 'expires_at_ms')}`;
  if (query.valid === undefined) return 'SELECT COALESCE(SUM(n), 0) AS total FROM token_expiry_counts';
  const [hours, inHour] = query.valid
    ? ['hour > @hour', 'expires_at_ms > @nowMs AND expires_at_ms < @hourEnd']
    : ['hour < @hour', 'expires_at_ms >= @hourStart AND expires_at_ms <= @nowMs'];
  return `SELECT (SELECT COALESCE(SUM(n), 0) FROM token_expiry_counts WHERE ${hours})
    + (SELECT COUNT(*) FROM stored_tokens WHERE ${inHour}) AS total`;
};

/** A listing's columns, in this order (the page is read as arrays): never the sealed token. */
export const LISTED_COLUMNS = 'id, user_id, preview, expires_at_ms, saved_at_ms';

export const storedTokenPageSql = (query: Pick<StoredTokenQuery, 'userId' | 'valid'>): string =>
  `SELECT ${LISTED_COLUMNS} FROM stored_tokens ${filters(query, '+expires_at_ms')} ${NEWEST_FIRST} ${PAGE_LIMIT}`;

/** Parameters, by position: now (ms), then the user when `byUser`. */
export const currentStoredTokenSql = (byUser: boolean): string =>
  `SELECT * FROM stored_tokens WHERE +expires_at_ms > ? ${byUser ? 'AND user_id = ?' : ''} ${NEWEST_FIRST} LIMIT 1`;
