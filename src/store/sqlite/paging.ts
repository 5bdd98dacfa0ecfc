/**
 * A page's LIMIT and OFFSET from the `@limit` and `@offset` parameters. Cast, not bare: SQLite
 * (3.53 here) reads a bare parameter's bound value while planning a LIMIT, which marks the
 * prepared statement to be compiled again whenever that parameter is bound, so every page
 * would parse and plan its query anew (7% of a page of 50's time in `perf`). An expression
 * around the parameter is evaluated when the statement runs instead.
 */
export const PAGE_LIMIT = 'LIMIT CAST(@limit AS INTEGER) OFFSET CAST(@offset AS INTEGER)';
