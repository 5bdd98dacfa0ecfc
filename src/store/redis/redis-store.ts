import { DAY_MS, secondsFromMs } from '../../clock.js';
import { StoreMismatchError } from '../../errors.js';
import { ChangeFeed, type PublishedEvent } from '../feed/change-feed.js';
import { currentReadsOfTurn, pagesOfTurn, TurnBatch } from '../turn-batch.js';
import type {
  ApiKeyRecord,
  AuditEntry,
  AuditQuery,
  FeedEvent,
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
import { RedisAccessKeys } from './access.js';
import { ConnectionGate } from './availability.js';
import { pairsToMap, sessionFields, toSession } from './codec.js';
import {
  createClient,
  createSubscriber,
  type ParsedRedisUrl,
  parseRedisUrl,
  REDIS_DEADLINES,
  type RedisBackendConfig,
  type RedisClient,
} from './connection.js';
import { RedisFeedTransport } from './feed-transport.js';
import { RedisKeys } from './keys.js';
import * as lua from './scripts.js';
import { RedisStoredTokens } from './stored-tokens.js';
import { TurnWrites } from './turn-writes.js';

/**
 * The key layout `keys.ts` describes; bump it with a migration when the layout changes.
 * 2: the audit trail's entries are members of its sorted sets, not hashes (see `migrate`).
 */
const SCHEMA_VERSION = 2;

export interface RedisStoreOptions {
  /**
   * How long a record's hash outlives its expiry before Redis drops it by TTL. The sweeper
   * (`purgeStoredTokens`, `purgeSessions`) is what deletes expired records; the TTL is a backstop
   * that bounds memory if it never runs, so keep it above the retention period
   * (`STORAGE_RETENTION_DAYS`, 30 by default). Default 31 days.
   */
  ttlMarginMs?: number;
  /**
   * How long an audit entry lives before a later write trims it from the trail: a backstop
   * above the retention (`AUDIT_RETENTION_DAYS`), as `ttlMarginMs` is for records. Default 91
   * days.
   */
  auditTtlMs?: number;
  /** Longest wait for a connection. Default `REDIS_DEADLINES.connectMs`. */
  connectTimeoutMs?: number;
  /** Longest wait for a reply, and for the first connection. Default `REDIS_DEADLINES.commandMs`. */
  commandTimeoutMs?: number;
  /** How often the feed's connection proves it is alive, ms. Default `REDIS_DEADLINES.feedHeartbeatMs`. */
  feedHeartbeatMs?: number;
}

/**
 * The Redis backend (also Redis Cluster, Vercel KV, Upstash). Records are hashes, orders and
 * filters are sorted-set indexes, and every change touching more than one key is one Lua
 * script (`scripts.ts`), so each method is atomic as the port promises. The change feed is
 * pub/sub on `<prefix>events` (`feed.ts`).
 *
 * Requests fail fast with StoreUnavailableError while the server is unreachable (nothing is
 * queued); the client reconnects by itself and requests work again once it has.
 *
 * Needs Redis 6.2 or newer (ZRANGESTORE), with Lua scripting and pub/sub.
 */
export class RedisStore implements Store {
  readonly backend = 'redis' as const;
  private readonly keys: RedisKeys;
  private readonly prefix: string;
  private readonly server: ParsedRedisUrl;
  private readonly client: RedisClient;
  private readonly feed: ChangeFeed;
  private readonly ttlMarginMs: number;
  private readonly gate: ConnectionGate;
  /** Holds the socket's writes to the end of the turn (see turn-writes.ts). */
  private readonly writes: TurnWrites;
  private readonly access: RedisAccessKeys;
  private readonly storedTokens: RedisStoredTokens;
  /**
   * The lookups by id of one turn, one read per distinct id, made at the turn's end through
   * `run`: the turn's reads still leave in one write.
   */
  private readonly lookups = TurnBatch.ofKeys((id) => this.run(() => this.storedTokens.findStoredToken(id)));
  /** The current-token lookups of one turn, one read per distinct millisecond and user, as `lookups`. */
  private readonly currentReads = currentReadsOfTurn((nowMs, userId) =>
    this.run(() => this.storedTokens.findCurrentStoredToken(nowMs, userId)),
  );
  /** The page requests of one turn, one read per distinct page, as `lookups`. */
  private readonly pages = pagesOfTurn((query) => this.run(() => this.storedTokens.listStoredTokens(query)));
  /**
   * Recorded reads, batched as `lookups` and `currentReads`: each is one script call with its
   * lookups' audit entries (one round trip, where the read and then its entries took two).
   */
  private readonly recordedLookups = TurnBatch.ofKeys<StoredToken | null, AuditEntry>((id, entries) =>
    this.run(() => this.storedTokens.readStoredToken(id, this.access.auditArgs(entries))),
  );
  private readonly recordedCurrentReads = currentReadsOfTurn<StoredToken | null, AuditEntry>(
    (nowMs, userId, entries) =>
      this.run(() => this.storedTokens.readCurrentStoredToken(nowMs, userId, this.access.auditArgs(entries))),
  );
  private closed = false;

  constructor(config: RedisBackendConfig, options: RedisStoreOptions = {}) {
    const commandTimeoutMs = options.commandTimeoutMs ?? REDIS_DEADLINES.commandMs;
    this.ttlMarginMs = options.ttlMarginMs ?? 31 * DAY_MS;
    this.prefix = config.prefix;
    this.keys = new RedisKeys(config.prefix);
    this.server = parseRedisUrl(config.url, {
      connectTimeoutMs: options.connectTimeoutMs ?? REDIS_DEADLINES.connectMs,
      commandTimeoutMs,
    });
    // Names for CLIENT LIST: which connections are this store's, and which one is its feed.
    this.client = createClient(this.server, config.cluster, `${config.prefix}store`);
    this.gate = new ConnectionGate(this.client, commandTimeoutMs);
    this.writes = new TurnWrites(this.client);
    this.access = new RedisAccessKeys(this.client, this.keys, options.auditTtlMs ?? 91 * DAY_MS);
    this.storedTokens = new RedisStoredTokens(this.client, this.keys, (expiresAtMs) =>
      this.ttlMs(expiresAtMs),
    );
    this.feed = new ChangeFeed(
      new RedisFeedTransport(
        this.keys.channel,
        (generation) => createSubscriber(this.server, this.client, generation, `${config.prefix}feed`),
        options.feedHeartbeatMs,
      ),
    );
  }

  private run<T>(operation: () => Promise<T>): Promise<T> {
    this.writes.hold();
    return this.gate.run(operation);
  }

  /**
   * Runs a session script with the KEYS and leading ARGV that SESSION_PRELUDE expects;
   * `eventId` names the event it may publish ('' for scripts that publish none).
   */
  private sessionScript(
    script: lua.LuaScript,
    eventId: string,
    ...args: (string | number)[]
  ): Promise<unknown> {
    const { keys } = this;
    return lua.runScript(
      this.client,
      script,
      [keys.sessionsByCreated, keys.sessionsByExp, keys.version],
      [keys.sessionPrefix, keys.channel, eventId, ...args],
    );
  }

  /** Milliseconds a record's hash lives: until its expiry plus the margin, never less than the margin. */
  private ttlMs(expiresAtMs: number): number {
    // Wall clock on purpose: the TTL is physical clean-up, not domain time.
    return Math.ceil(Math.max(expiresAtMs + this.ttlMarginMs - Date.now(), this.ttlMarginMs));
  }

  /**
   * Initialises the version (SET NX: concurrent instances agree) and records the key layout.
   * Layout 1 is brought to 2 by moving its audit entries; the move is safe to run from several
   * instances at once, and the audit sweep moves what layout 1's instances write until they
   * are stopped. Layout 1's Tessera refuses to start on layout 2, which it cannot read.
   * A prefix holding another layout, or keys that are not Tessera's, is a StoreMismatchError.
   */
  migrate(): Promise<void> {
    return this.run(async () => {
      await this.client.set(this.keys.version, '1', 'NX');
      await this.client.set(this.keys.schema, String(SCHEMA_VERSION), 'NX');
      let schema = await this.client.get(this.keys.schema);
      if (schema === '1') {
        await this.access.moveLegacyAudit();
        await this.client.set(this.keys.schema, String(SCHEMA_VERSION));
        schema = String(SCHEMA_VERSION);
      }
      if (schema !== String(SCHEMA_VERSION)) {
        throw new StoreMismatchError(
          `the redis store under prefix ${JSON.stringify(this.prefix)} has key layout ${JSON.stringify(schema)}, ` +
            `and this Tessera knows layout ${SCHEMA_VERSION}: run the Tessera version that wrote it, ` +
            'or set REDIS_PREFIX to a prefix of its own',
        );
      }
      await this.storedTokens.indexStoredTokensByKid();
    });
  }

  ping(): Promise<void> {
    return this.run(async () => {
      await this.client.ping();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.feed.close();
    this.gate.close();
    if (this.client.status !== 'ready') return this.client.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }

  getAdminKeyHash(): Promise<string | null> {
    return this.run(() => this.client.get(this.keys.adminKeyHash));
  }

  /** SET NX then GET: the first writer's hash is the one every caller gets back. */
  initAdminKeyHash(hash: string): Promise<string> {
    return this.run(async () => {
      await this.client.set(this.keys.adminKeyHash, hash, 'NX');
      return (await this.client.get(this.keys.adminKeyHash)) ?? hash;
    });
  }

  getSessionVersion(): Promise<number> {
    return this.run(async () => Number((await this.client.get(this.keys.version)) ?? 1));
  }

  // Mutations publish their event inside the script, so it goes out exactly when the change
  // happens, and never for a change that did not happen.

  /**
   * Runs a session script that may publish, and hands what it published to this instance's
   * listeners before returning (see ChangeFeed.publishing).
   */
  private async publishing<T>(
    script: lua.LuaScript,
    args: (string | number)[],
    read: (reply: unknown) => { result: T; event: FeedEvent | null },
  ): Promise<T> {
    const { result } = await this.feed.publishing(
      async (id) => read(await this.sessionScript(script, id, ...args)),
      ({ event }, id): PublishedEvent[] => (event === null ? [] : [{ id, event }]),
    );
    return result;
  }

  bumpSessionVersion(): Promise<number> {
    return this.run(() =>
      this.publishing(lua.BUMP_VERSION, [], (reply) => {
        const version = Number(reply);
        return { result: version, event: { type: 'version', version } };
      }),
    );
  }

  createSession(session: NewSession): Promise<void> {
    return this.run(async () => {
      const { jti, createdAtMs, iat, exp, v } = session;
      const ttlMs = this.ttlMs(exp * 1000);
      const args = [jti, createdAtMs, exp, ttlMs, iat, v, ...sessionFields(session)];
      await this.publishing(lua.CREATE_SESSION, args, () => ({
        result: undefined,
        event: { type: 'created', jti, iat, exp, v },
      }));
    });
  }

  findSession(jti: string): Promise<SessionRecord | null> {
    return this.run(async () => {
      const fields = await this.client.hgetall(this.keys.session(jti));
      return Object.keys(fields).length === 0 ? null : toSession(new Map(Object.entries(fields)));
    });
  }

  listSessions(): Promise<SessionRecord[]> {
    return this.run(async () => {
      const hashes = (await this.sessionScript(lua.LIST_SESSIONS, '')) as string[][];
      return hashes.map((flat) => toSession(pairsToMap(flat)));
    });
  }

  listRevokedSessions(nowSeconds: number): Promise<string[]> {
    return this.run(
      async () => (await this.sessionScript(lua.LIST_REVOKED_SESSIONS, '', nowSeconds)) as string[],
    );
  }

  revokeSession(jti: string, nowMs: number): Promise<boolean> {
    return this.run(() =>
      this.publishing(lua.REVOKE_SESSION, [jti, nowMs, secondsFromMs(nowMs)], (reply) => {
        const revoked = Number(reply) === 1;
        return { result: revoked, event: revoked ? { type: 'revoked', jtis: [jti] } : null };
      }),
    );
  }

  revokeOtherSessions(exceptJti: string | null, nowMs: number): Promise<string[]> {
    const keep = exceptJti === null ? ['0', ''] : ['1', exceptJti];
    return this.run(() =>
      this.publishing(lua.REVOKE_OTHER_SESSIONS, [nowMs, secondsFromMs(nowMs), ...keep], (reply) => {
        const jtis = reply as string[];
        return { result: jtis, event: jtis.length > 0 ? { type: 'revoked', jtis } : null };
      }),
    );
  }

  touchSessions(seen: Map<string, number>): Promise<void> {
    if (seen.size === 0) return Promise.resolve();
    return this.run(async () => {
      await this.sessionScript(lua.TOUCH_SESSIONS, '', ...[...seen].flat());
    });
  }

  purgeSessions(beforeSeconds: number): Promise<number> {
    return this.run(async () => Number(await this.sessionScript(lua.PURGE_SESSIONS, '', beforeSeconds)));
  }

  insertStoredToken(token: StoredToken): Promise<void> {
    return this.run(() => this.storedTokens.insertStoredToken(token));
  }

  findStoredToken(id: string): Promise<StoredToken | null> {
    return this.lookups.get(id);
  }

  listStoredTokens(query: StoredTokenQuery): Promise<StoredTokenPage> {
    return this.pages(query);
  }

  findCurrentStoredToken(nowMs: number, userId?: string): Promise<StoredToken | null> {
    return this.currentReads(nowMs, userId);
  }

  readStoredToken(id: string, entry: AuditEntry): Promise<StoredToken | null> {
    return this.recordedLookups.get(id, entry);
  }

  readCurrentStoredToken(
    nowMs: number,
    userId: string | undefined,
    entry: AuditEntry,
  ): Promise<StoredToken | null> {
    return this.recordedCurrentReads(nowMs, userId, entry);
  }

  updateStoredToken(id: string, patch: StoredTokenPatch): Promise<StoredToken | null> {
    return this.run(() => this.storedTokens.updateStoredToken(id, patch));
  }

  deleteStoredToken(id: string): Promise<boolean> {
    return this.run(() => this.storedTokens.deleteStoredToken(id));
  }

  clearStoredTokens(): Promise<number> {
    return this.run(() => this.storedTokens.clearStoredTokens());
  }

  purgeStoredTokens(beforeMs: number): Promise<number> {
    return this.run(() => this.storedTokens.purgeStoredTokens(beforeMs));
  }

  rotateAdminKeyHash(hash: string): Promise<void> {
    return this.run(async () => {
      await this.feed.publishing(
        (id) => this.access.rotateAdminKeyHash(hash, id),
        (_reply, id) => [{ id, event: { type: 'admin_key_rotated' } }],
      );
    });
  }

  createApiKey(key: NewApiKey): Promise<void> {
    return this.run(() => this.access.createApiKey(key));
  }

  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    return this.run(() => this.access.findApiKeyByHash(keyHash));
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.run(() => this.access.listApiKeys());
  }

  revokeApiKey(apiKeyId: string, nowMs: number): Promise<boolean> {
    return this.run(() =>
      this.feed.publishing(
        (id) => this.access.revokeApiKey(apiKeyId, nowMs, id),
        (revoked, id): PublishedEvent[] =>
          revoked ? [{ id, event: { type: 'api_key_revoked', id: apiKeyId } }] : [],
      ),
    );
  }

  touchApiKeys(seen: Map<string, number>): Promise<void> {
    return this.run(() => this.access.touchApiKeys(seen));
  }

  appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    return this.run(() => this.access.appendAudit(entries));
  }

  listAudit(query: AuditQuery): Promise<{ items: AuditEntry[]; total: number }> {
    return this.run(() => this.access.listAudit(query));
  }

  purgeAudit(beforeMs: number): Promise<number> {
    return this.run(() => this.access.purgeAudit(beforeMs));
  }

  addFailure(subject: string, nowMs: number, windowMs: number): Promise<ThrottleRecord> {
    return this.run(() => this.access.addFailure(subject, nowMs, windowMs));
  }

  lockOut(subject: string, untilMs: number, nowMs: number): Promise<void> {
    return this.run(async () => {
      await this.feed.publishing(
        (id) => this.access.lockOut(subject, untilMs, nowMs, id),
        (_reply, id) => [{ id, event: { type: 'throttled', subject, untilMs } }],
      );
    });
  }

  findThrottle(subject: string): Promise<ThrottleRecord | null> {
    return this.run(() => this.access.findThrottle(subject));
  }

  purgeThrottles(beforeMs: number): Promise<number> {
    return this.run(() => this.access.purgeThrottles(beforeMs));
  }

  listStoredTokensSealedWith(kid: string, limit: number): Promise<StoredToken[]> {
    return this.run(() => this.storedTokens.listStoredTokensSealedWith(kid, limit));
  }

  countStoredTokensSealedWith(kid: string): Promise<number> {
    return this.run(() => this.storedTokens.countStoredTokensSealedWith(kid));
  }

  resealStoredToken(id: string, fromKid: string, to: { kid: string; sealed: Buffer }): Promise<boolean> {
    return this.run(() => this.storedTokens.resealStoredToken(id, fromKid, to));
  }

  subscribe(listener: FeedListener): () => void {
    return this.feed.subscribe(listener);
  }
}
