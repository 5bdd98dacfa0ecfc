import { StoreUnavailableError } from '../../errors.js';

/** Socket errors: the server cannot be reached or the connection broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * SQLSTATEs that mean "the server is not serving us now", not "the query is wrong": class 08
 * (connection exception), 57014 query_canceled (statement_timeout, see deadlines.ts), shutdowns
 * (57P01 admin, 57P02 crash, 57P03 cannot connect now) and 53300 too_many_connections.
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57014|57P0[123]|53300)$/;

/**
 * Messages pg and pg-pool give for a lost, timed-out or closed connection (they carry no code):
 * `Query read timeout` is the reply deadline (query_timeout), `timeout expired` a client's own
 * connection deadline.
 */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|^timeout expired$|Query read timeout|Cannot use a pool after calling end|not queryable/;

/** True when `error` says the Postgres server cannot be used now. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  if (UNAVAILABLE_MESSAGE.test(error.message)) return true;
  // Connecting to a name with several addresses fails with one error per address.
  return error instanceof AggregateError && error.errors.some(isUnavailable);
}

/** Maps connection failures to StoreUnavailableError; every other error passes unchanged. */
export const toStoreError = (error: unknown): unknown =>
  isUnavailable(error) ? new StoreUnavailableError('postgres', error) : error;
