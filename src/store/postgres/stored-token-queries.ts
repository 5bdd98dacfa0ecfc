import type { StoredTokenQuery } from '../types.js';

export interface SqlQuery {
  text: string;
  values: unknown[];
}

/** A listing's statement, and whether the store may prepare it (see `listStoredTokensQuery`). */
export interface ListingQuery extends SqlQuery {
  prepared: boolean;
}

/** The listing order, served by `stored_tokens_saved` and `stored_tokens_user_saved`. */
const NEWEST_FIRST = 'ORDER BY saved_at_ms DESC, id DESC';

/** A listing's columns: never the sealed token, which a listing never opens. */
const LISTED_COLUMNS = ['id', 'user_id', 'preview', 'expires_at_ms', 'saved_at_ms'];
const listed = (table = '') => LISTED_COLUMNS.map((column) => `${table}${column}`).join(', ');

/**
 * From this many rows skipped on, a page without a validity filter is found in the listing
 * index alone (an index-only scan: ids, no table rows) and only its own rows are then read
 * by key. Reading every skipped row from the table costs a heap visit each: at 1,000,000
 * tokens page 1000 took 18 to 20 ms that way and 8 to 9 ms through the index alone, and 950
 * rows into one user's tokens (spread over the table) 7 to 15 ms against 0.7 to 1.6 ms. For
 * shallow pages the 50 key lookups cost more than they save (offset 50: 0.11 against 0.23 ms).
 * A validity filter reads the expiry from the table anyway, so it keeps the direct scan. The
 * index-only scan skips the table for pages (auto)vacuum has marked all-visible; rows changed
 * since are checked in the table, as the direct scan would.
 */
export const LATE_ROW_LOOKUP_OFFSET = 500;

/**
 * One page and its total in a single statement, so both come from one snapshot. The
 * unfiltered total is the sum of `token_counts` (no count over the table), a `valid` total
 * comes from `token_expiry_counts` (`validityTotal`); one with a user is counted over its
 * index range. A page past the end yields one row with a null id.
 *
 * Most listings are `prepared`: parsed and planned once per connection, then only bound and
 * run (a page of 50 cost Postgres 140 us of CPU so, 290 to 315 us planned each time). Once
 * prepared, Postgres may keep one generic plan, made without the values, which for these
 * statements uses the same indexes (the EXPLAIN test forces it and checks). Two kinds are
 * planned for their values at every call instead: a validity filter, a range on
 * `expires_at_ms` whose generic plan took a `?valid=true` total at 1,000,000 tokens from 1 ms
 * to 16 ms (p50), and a deep page for everyone, whose generic plan (not knowing how many rows
 * the page skips) joins the skipped ids to the whole table.
 * Exported for the EXPLAIN test, which checks these very statements use indexes.
 */
export function listStoredTokensQuery(schema: string, query: StoredTokenQuery): ListingQuery {
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const where: string[] = [];
  if (query.userId !== undefined) where.push(`user_id = ${param(query.userId)}`);
  if (query.valid === true) where.push(`expires_at_ms > ${param(query.nowMs)}`);
  if (query.valid === false) where.push(`expires_at_ms <= ${param(query.nowMs)}`);
  const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const total =
    where.length === 0
      ? `SELECT sum(n) FROM ${schema}.token_counts`
      : query.userId === undefined && query.valid !== undefined
        ? validityTotal(schema, query.valid, query.nowMs, param)
        : `SELECT count(*) FROM ${schema}.stored_tokens ${filter}`;
  const limits = `LIMIT ${param(query.limit)} OFFSET ${param(query.offset)}`;
  const lateRowLookup = query.valid === undefined && query.offset >= LATE_ROW_LOOKUP_OFFSET;
  const page = lateRowLookup
    ? `SELECT ${listed('t.')}
          FROM (SELECT id FROM ${schema}.stored_tokens ${filter} ${NEWEST_FIRST} ${limits}) AS skipped
          JOIN ${schema}.stored_tokens AS t ON t.id = skipped.id`
    : `SELECT ${listed()} FROM ${schema}.stored_tokens ${filter} ${NEWEST_FIRST} ${limits}`;
  return {
    text: `SELECT counted.total, page.* FROM (${total}) AS counted (total)
      LEFT JOIN (${page}) AS page ON true
      ORDER BY page.saved_at_ms DESC, page.id DESC`,
    values,
    prepared: query.valid === undefined && !(lateRowLookup && query.userId === undefined),
  };
}

const HOUR_MS = 3_600_000;

/**
 * How many tokens are valid (`expires_at_ms > nowMs`) or not, from `token_expiry_counts`: the
 * hours wholly after (or before) the current one are summed, and only the current hour's
 * tokens are counted over the expiry index.
 */
function validityTotal(
  schema: string,
  valid: boolean,
  nowMs: number,
  param: (value: unknown) => string,
): string {
  const hour = Math.floor(nowMs / HOUR_MS);
  const hourStart = hour * HOUR_MS;
  const [hours, inHour] = valid
    ? [
        `hour > ${param(hour)}`,
        `expires_at_ms > ${param(nowMs)} AND expires_at_ms < ${param(hourStart + HOUR_MS)}`,
      ]
    : [`hour < ${param(hour)}`, `expires_at_ms >= ${param(hourStart)} AND expires_at_ms <= ${param(nowMs)}`];
  return `SELECT (SELECT COALESCE(sum(n), 0) FROM ${schema}.token_expiry_counts WHERE ${hours})
    + (SELECT count(*) FROM ${schema}.stored_tokens WHERE ${inHour})`;
}

/** The most recently saved token still valid at `nowMs`, optionally for one user. */
export function currentStoredTokenQuery(schema: string, nowMs: number, userId?: string): SqlQuery {
  return userId === undefined
    ? {
        text: `SELECT * FROM ${schema}.stored_tokens WHERE expires_at_ms > $1 ${NEWEST_FIRST} LIMIT 1`,
        values: [nowMs],
      }
    : {
        text: `SELECT * FROM ${schema}.stored_tokens WHERE user_id = $2 AND expires_at_ms > $1 ${NEWEST_FIRST} LIMIT 1`,
        values: [nowMs, userId],
      };
}
