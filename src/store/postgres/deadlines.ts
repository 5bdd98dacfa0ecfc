/**
 * How long Postgres may keep a request waiting, in one place. A server that accepts
 * connections but stops answering (a hung or paused process, a stalled disk, a network path
 * that drops packets without a reset) must not hold requests, nor the pool's connections,
 * indefinitely: every wait is bounded, so a request gets its answer or 503 STORE_UNAVAILABLE
 * within 2 s, and /readyz says 503 meanwhile.
 *
 * One store call waits at most `connectMs + replyMs` (1.75 s), which leaves room for the rest
 * of the request; a call on a connection already open waits at most `replyMs`.
 */
export const POSTGRES_DEADLINES = {
  /** A new connection (TCP, TLS, authentication), or a free one when the pool is full. */
  connectMs: 750,
  /**
   * The client's deadline for the reply to one statement: what catches a peer that went
   * silent without closing. The connection is dropped after it.
   */
  replyMs: 1000,
  /**
   * `statement_timeout`, set on every connection: a server that is alive but slow (a lock
   * wait, a long scan) cancels the statement itself, with an error the connection survives,
   * before the client's own deadline would drop it.
   */
  statementMs: 800,
  /**
   * The change feed's heartbeat: a round trip on the LISTEN connection this often, each
   * answered within `replyMs`, so a feed gone silent is reported down within two beats and
   * session checks stop answering from memory.
   */
  feedHeartbeatMs: 1000,
} as const;

/** pg client settings that bound every wait on a connection of the pool or of the feed. */
export const boundedConnection = {
  connectionTimeoutMillis: POSTGRES_DEADLINES.connectMs,
  query_timeout: POSTGRES_DEADLINES.replyMs,
  statement_timeout: POSTGRES_DEADLINES.statementMs,
} as const;

/**
 * The migration runs once per start on a connection of its own, without the request
 * deadlines: it may wait for another instance's migration (an advisory lock) and build
 * indexes. This bounds it against a server gone silent; start-up then retries.
 */
export const MIGRATION_REPLY_MS = 60_000;
