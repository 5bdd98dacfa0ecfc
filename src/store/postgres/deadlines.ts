/**
 * How long Postgres may keep a request waiting, in one place. A server that accepts
 * connections but stops answering (a hung or paused process, a stalled disk, a network path
 * that drops packets without a reset) must not hold requests, nor the pool's connections,
 * indefinitely: every wait is bounded, so a request gets its answer or 503 STORE_UNAVAILABLE
 * within 2 s, and /readyz says 503 meanwhile.
 */
export const POSTGRES_DEADLINES = {
  /**
   * One store call, from asking the pool for a connection to the reply: 1.5 s leaves room
   * for the rest of the request. The reply gets what connecting left of it (pg's
   * `query_timeout`): what catches a peer gone silent without closing. The connection is
   * dropped after it.
   */
  callMs: 1500,
  /**
   * Of which a new connection (TCP, TLS, authentication, a backend forked on a busy server),
   * or a free one from a full pool, may take this much.
   */
  connectMs: 1250,
  /**
   * `statement_timeout`, set on every connection: a server that is alive but slow (a lock
   * wait, a long scan) cancels the statement itself, with an error the connection survives,
   * before the client's deadline would drop it. A batch of reads by id that waited for
   * another starts with less than this left of its call, and its client deadline may come
   * first: the connection is then dropped, and the server may still finish the statement
   * (its entries recorded, the caller answered 503).
   */
  statementMs: 1000,
  /**
   * The change feed's heartbeat: a round trip on the LISTEN connection this often, each
   * answered before the next, so a feed gone silent is reported down within two beats and
   * session checks stop answering from memory.
   */
  feedHeartbeatMs: 1000,
} as const;

/**
 * The migration runs once per start on a connection of its own, without the request
 * deadlines: it may wait for another instance's migration (an advisory lock) and build
 * indexes. These bound it against a server gone silent; start-up then retries.
 */
export const MIGRATION_DEADLINES = { connectMs: 3000, replyMs: 60_000 } as const;
