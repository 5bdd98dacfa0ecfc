import { Client, Pool, type PoolClient, type QueryConfig, type QueryResult, type QueryResultRow } from 'pg';
import { secondsFromMs } from '../../clock.js';
import type { BackendConfig } from '../../config.js';
import { StoreUnavailableError } from '../../errors.js';
import { ChangeFeed } from '../feed/change-feed.js';
import type {
  ApiKeyRecord,
  AuditEntry,
  AuditQuery,
  FeedListener,
  NewApiKey,
  NewSession,
  SessionRecord,
  Store,
  StoredToken,
  StoredTokenPage,
  StoredTokenPatch,
  StoredTokenQuery,
  ThrottleRecord,
} from '../types.js';
import { PostgresAccessTables } from './access.js';
import { MIGRATION_DEADLINES, POSTGRES_DEADLINES } from './deadlines.js';
import { feedChannel, PostgresFeedTransport } from './feed-transport.js';
import { applyPostgresMigrations, quoteIdentifier } from './migrations.js';
import { connectWithin } from './pool-connect.js';
import type { TableQuery } from './rows.js';
import { PostgresSessionTables } from './sessions.js';
import { PostgresStoredTokenTables } from './stored-tokens.js';
import { toStoreError } from './unavailable.js';

export interface PostgresStoreOptions {
  /** How often the feed connection proves it is alive, ms (default `POSTGRES_DEADLINES.feedHeartbeatMs`). */
  feedHeartbeatMs?: number;
}

/** NOTIFY payloads must stay under 8000 bytes; revoked jtis are sent in chunks of about this. */
const NOTIFY_CHUNK_BYTES = 7000;
/**
 * Rows one DELETE of clear or purge removes at most; the call repeats it until fewer are
 * left. A store of a million tokens is then cleared by many short statements rather than one
 * long one that would hold its locks, and its connection, for seconds.
 */
const DELETE_BATCH = 10_000;

/** SQL for a feed message (see `feed/wire.ts`): `{"id": <idSql>, "e": <eventSql>}` as text. */
const envelope = (idSql: string, eventSql: string) =>
  `json_build_object('id', ${idSql}::text, 'e', ${eventSql})::text`;

/**
 * The shared backend on PostgreSQL. Every method is one statement (so atomic on its own);
 * session changes NOTIFY in that same statement, so an event is sent exactly when, and only
 * if, the change commits. The statement's reply also hands the event to this instance's
 * listeners at once (`feed.publishing`), before the call returns. All names are qualified
 * with the configured schema.
 */
export class PostgresStore implements Store {
  readonly backend = 'postgres' as const;
  /** Exposed for tests that inspect plans and raw rows; the domain never uses it. */
  readonly pool: Pool;
  private readonly url: string;
  private readonly schema: string;
  private readonly s: string;
  private readonly channel: string;
  private readonly feed: ChangeFeed;
  private readonly access: PostgresAccessTables;
  private readonly storedTokens: PostgresStoredTokenTables;
  private readonly sessions: PostgresSessionTables;
  private closing: Promise<void> | null = null;
  /**
   * Each statement text's name: statements are prepared once per connection and then only
   * bound and run, so Postgres parses and plans them once rather than on every call (about
   * a third of its CPU on a key read). Every text is parameterised, so the set is small and
   * fixed. Some listings are planned at every call instead (`listStoredTokensQuery` says
   * which, and why). The current token stays prepared (one row by the saved-order index,
   * whatever the range): unprepared it cost 40 to 50 us more a call.
   */
  private readonly statementNames = new Map<string, string>();

  constructor(config: Extract<BackendConfig, { kind: 'postgres' }>, options: PostgresStoreOptions = {}) {
    this.schema = config.schema;
    this.s = quoteIdentifier(config.schema);
    this.url = config.url;
    this.pool = new Pool({
      connectionString: config.url,
      max: config.poolMax,
      application_name: 'tessera',
      // A store that is down or silent fails requests fast (503) instead of holding them; each
      // call's reply deadline is set in query(), from what connecting left of callMs.
      connectionTimeoutMillis: POSTGRES_DEADLINES.connectMs,
      statement_timeout: POSTGRES_DEADLINES.statementMs,
      query_timeout: POSTGRES_DEADLINES.callMs,
      idleTimeoutMillis: 30_000,
    });
    // An idle client that loses its server emits 'error' on the pool; unhandled, that would
    // crash the process. The pool drops the client; the next query reconnects or reports.
    this.pool.on('error', () => undefined);
    const query: TableQuery = (text, values, options) => this.query(text, values, options);
    this.access = new PostgresAccessTables(query, this.s);
    this.storedTokens = new PostgresStoredTokenTables(query, this.s);
    this.sessions = new PostgresSessionTables(query, this.s);
    this.channel = feedChannel(config.schema);
    this.feed = new ChangeFeed(new PostgresFeedTransport(config.url, this.channel, options.feedHeartbeatMs));
  }

  /**
   * One statement on a pooled connection, answered within POSTGRES_DEADLINES.callMs of the
   * call, connecting included; of `since` instead when given (a batch of reads by id passes when
   * its first lookup was made, so its wait for the end of the turn, or for a running batch,
   * counts). A connection whose statement failed is dropped, as pool.query does: after a missed
   * deadline it may still be busy, or silent.
   */
  private async query<R extends QueryResultRow>(
    text: string,
    values?: unknown[],
    { prepared = true, since }: { prepared?: boolean; since?: number } = {},
  ): Promise<QueryResult<R>> {
    const now = performance.now();
    const deadline = (since ?? now) + POSTGRES_DEADLINES.callMs;
    const left = deadline - now;
    if (left <= 0)
      throw new StoreUnavailableError('postgres', new Error('the call deadline passed while it waited'));
    let client: PoolClient;
    try {
      // The pool bounds a connect by connectMs; a call with less left is bounded by what is left.
      client =
        left >= POSTGRES_DEADLINES.connectMs
          ? await this.pool.connect()
          : await connectWithin(this.pool, left);
    } catch (error) {
      throw toStoreError(error);
    }
    // A connection error while the client is checked out is emitted on it; unhandled, that
    // would crash the process. The failed statement reports it.
    const ignore = () => undefined;
    client.on('error', ignore);
    // pg reads query_timeout from a query's config too, though its types do not say so.
    let name = prepared ? this.statementNames.get(text) : undefined;
    if (prepared && name === undefined) {
      name = `tessera_${this.statementNames.size + 1}`;
      this.statementNames.set(text, name);
    }
    const statement: QueryConfig & { query_timeout: number } = {
      ...(name === undefined ? {} : { name }),
      text,
      ...(values === undefined ? {} : { values }),
      query_timeout: Math.max(1, Math.round(deadline - performance.now())),
    };
    try {
      const result = await client.query<R>(statement);
      client.release();
      return result;
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw toStoreError(error);
    } finally {
      client.off('error', ignore);
    }
  }

  /** On a connection of its own, without the request deadlines (see MIGRATION_DEADLINES). */
  async migrate(): Promise<void> {
    const client = new Client({
      connectionString: this.url,
      application_name: 'tessera',
      connectionTimeoutMillis: MIGRATION_DEADLINES.connectMs,
      query_timeout: MIGRATION_DEADLINES.replyMs,
    });
    // Registered before connecting: an error event without a handler would crash the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
      await applyPostgresMigrations(client, this.schema);
    } catch (error) {
      throw toStoreError(error);
    } finally {
      // Not waited for: a server gone silent must not hold start-up on a goodbye.
      void client.end().catch(() => undefined);
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  close(): Promise<void> {
    this.closing ??= this.feed.close().then(() => this.pool.end());
    return this.closing;
  }

  getAdminKeyHash(): Promise<string | null> {
    return this.sessions.getAdminKeyHash();
  }

  initAdminKeyHash(hash: string): Promise<string> {
    return this.sessions.initAdminKeyHash(hash);
  }

  getSessionVersion(): Promise<number> {
    return this.sessions.getSessionVersion();
  }

  async bumpSessionVersion(): Promise<number> {
    const { rows } = await this.feed.publishing(
      (id) =>
        this.query<{ value: string }>(
          this.sessions.bumpSessionVersionSql(
            `pg_notify($1, ${envelope('$2', "json_build_object('type', 'version', 'version', value)")})`,
          ),
          [this.channel, id],
        ),
      (reply, id) => [{ id, event: { type: 'version', version: Number(reply.rows[0]?.value) } }],
    );
    return Number(rows[0]?.value);
  }

  async createSession(session: NewSession): Promise<void> {
    await this.feed.publishing(
      (id) =>
        this.query(
          this.sessions.createSessionSql(
            `pg_notify($8, ${envelope('$9', "json_build_object('type', 'created', 'jti', jti, 'iat', iat, 'exp', exp, 'v', v)")})`,
          ),
          [
            session.jti,
            session.iat,
            session.exp,
            session.v,
            session.createdAtMs,
            session.ip,
            session.userAgent,
            this.channel,
            id,
          ],
        ),
      (_reply, id) => [
        {
          id,
          event: { type: 'created', jti: session.jti, iat: session.iat, exp: session.exp, v: session.v },
        },
      ],
    );
  }

  findSession(jti: string): Promise<SessionRecord | null> {
    return this.sessions.findSession(jti);
  }

  listSessions(): Promise<SessionRecord[]> {
    return this.sessions.listSessions();
  }

  listRevokedSessions(nowSeconds: number): Promise<string[]> {
    return this.sessions.listRevokedSessions(nowSeconds);
  }

  async revokeSession(jti: string, nowMs: number): Promise<boolean> {
    const { rowCount } = await this.feed.publishing(
      (id) =>
        this.query(
          this.sessions.revokeSessionSql(
            `pg_notify($4, ${envelope('$5', "json_build_object('type', 'revoked', 'jtis', json_build_array(jti))")})`,
          ),
          [nowMs, secondsFromMs(nowMs), jti, this.channel, id],
        ),
      (reply, id) => (reply.rowCount === 1 ? [{ id, event: { type: 'revoked', jtis: [jti] } }] : []),
    );
    return rowCount === 1;
  }

  async revokeOtherSessions(exceptJti: string | null, nowMs: number): Promise<string[]> {
    // NOTIFY payloads must stay small, so the jtis go out in chunks of about NOTIFY_CHUNK_BYTES,
    // each under an id of its own: `<statement id>#<chunk>`.
    const { rows } = await this.feed.publishing(
      (id) =>
        this.query<{ id: string; jtis: string[] }>(
          this.sessions.revokeOtherSessionsSql(
            `pg_notify($4, ${envelope('id', "json_build_object('type', 'revoked', 'jtis', json_agg(jti))")})`,
          ),
          [nowMs, secondsFromMs(nowMs), exceptJti, this.channel, NOTIFY_CHUNK_BYTES, id],
        ),
      (reply) => reply.rows.map((row) => ({ id: row.id, event: { type: 'revoked', jtis: row.jtis } })),
    );
    return rows.flatMap((row) => row.jtis);
  }

  touchSessions(seen: Map<string, number>): Promise<void> {
    return this.sessions.touchSessions(seen);
  }

  purgeSessions(beforeSeconds: number): Promise<number> {
    return this.deleteInBatches(this.sessions.purgeSessionsSql(), [beforeSeconds]);
  }

  insertStoredToken(token: StoredToken): Promise<void> {
    return this.storedTokens.insertStoredToken(token);
  }

  findStoredToken(id: string): Promise<StoredToken | null> {
    return this.storedTokens.findStoredToken(id);
  }

  listStoredTokens(query: StoredTokenQuery): Promise<StoredTokenPage> {
    return this.storedTokens.listStoredTokens(query);
  }

  findCurrentStoredToken(nowMs: number, userId?: string): Promise<StoredToken | null> {
    return this.storedTokens.findCurrentStoredToken(nowMs, userId);
  }

  readStoredToken(id: string, entry: AuditEntry): Promise<StoredToken | null> {
    return this.storedTokens.readStoredToken(id, entry);
  }

  readCurrentStoredToken(
    nowMs: number,
    userId: string | undefined,
    entry: AuditEntry,
  ): Promise<StoredToken | null> {
    return this.storedTokens.readCurrentStoredToken(nowMs, userId, entry);
  }

  updateStoredToken(id: string, patch: StoredTokenPatch): Promise<StoredToken | null> {
    return this.storedTokens.updateStoredToken(id, patch);
  }

  deleteStoredToken(id: string): Promise<boolean> {
    return this.storedTokens.deleteStoredToken(id);
  }

  clearStoredTokens(): Promise<number> {
    return this.deleteInBatches(this.storedTokens.clearStoredTokensSql(), []);
  }

  purgeStoredTokens(beforeMs: number): Promise<number> {
    return this.deleteInBatches(this.storedTokens.purgeStoredTokensSql(), [beforeMs]);
  }

  /**
   * Runs a DELETE of at most DELETE_BATCH rows (its last parameter) until one deletes fewer;
   * returns how many rows went in all. Each batch commits on its own.
   */
  private async deleteInBatches(text: string, values: unknown[]): Promise<number> {
    let deleted = 0;
    for (;;) {
      const { rowCount } = await this.query(text, [...values, DELETE_BATCH]);
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < DELETE_BATCH) return deleted;
    }
  }

  listStoredTokensSealedWith(kid: string, limit: number): Promise<StoredToken[]> {
    return this.storedTokens.listStoredTokensSealedWith(kid, limit);
  }

  countStoredTokensSealedWith(kid: string): Promise<number> {
    return this.storedTokens.countStoredTokensSealedWith(kid);
  }

  resealStoredToken(id: string, fromKid: string, to: { kid: string; sealed: Buffer }): Promise<boolean> {
    return this.storedTokens.resealStoredToken(id, fromKid, to);
  }

  async rotateAdminKeyHash(hash: string): Promise<void> {
    await this.feed.publishing(
      (id) =>
        this.query(
          this.sessions.rotateAdminKeyHashSql(
            `pg_notify($2, ${envelope('$3', "json_build_object('type', 'admin_key_rotated')")})`,
          ),
          [hash, this.channel, id],
        ),
      (_reply, id) => [{ id, event: { type: 'admin_key_rotated' } }],
    );
  }

  createApiKey(key: NewApiKey): Promise<void> {
    return this.access.createApiKey(key);
  }

  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    return this.access.findApiKeyByHash(keyHash);
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.access.listApiKeys();
  }

  async revokeApiKey(apiKeyId: string, nowMs: number): Promise<boolean> {
    const { rowCount } = await this.feed.publishing(
      (id) =>
        this.query(
          this.access.revokeApiKeySql(
            `pg_notify($3, ${envelope('$4', "json_build_object('type', 'api_key_revoked', 'id', id)")})`,
          ),
          [nowMs, apiKeyId, this.channel, id],
        ),
      (reply, id) => (reply.rowCount === 1 ? [{ id, event: { type: 'api_key_revoked', id: apiKeyId } }] : []),
    );
    return rowCount === 1;
  }

  touchApiKeys(seen: Map<string, number>): Promise<void> {
    return this.access.touchApiKeys(seen);
  }

  appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    return this.access.appendAudit(entries);
  }

  listAudit(query: AuditQuery): Promise<{ items: AuditEntry[]; total: number }> {
    return this.access.listAudit(query);
  }

  purgeAudit(beforeMs: number): Promise<number> {
    return this.access.purgeAudit(beforeMs);
  }

  addFailure(subject: string, nowMs: number, windowMs: number): Promise<ThrottleRecord> {
    return this.access.addFailure(subject, nowMs, windowMs);
  }

  async lockOut(subject: string, untilMs: number, nowMs: number): Promise<void> {
    await this.feed.publishing(
      (id) =>
        this.query(
          this.access.lockOutSql(
            `pg_notify($4, ${envelope('$5', "json_build_object('type', 'throttled', 'subject', subject, 'untilMs', $2::bigint)")})`,
          ),
          [subject, untilMs, nowMs, this.channel, id],
        ),
      (_reply, id) => [{ id, event: { type: 'throttled', subject, untilMs } }],
    );
  }

  findThrottle(subject: string): Promise<ThrottleRecord | null> {
    return this.access.findThrottle(subject);
  }

  purgeThrottles(beforeMs: number): Promise<number> {
    return this.access.purgeThrottles(beforeMs);
  }

  subscribe(listener: FeedListener): () => void {
    return this.feed.subscribe(listener);
  }
}
