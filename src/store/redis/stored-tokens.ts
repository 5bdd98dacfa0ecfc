import type { StoredToken, StoredTokenPage, StoredTokenPatch, StoredTokenQuery } from '../types.js';
import {
  fromStoredTokenValues,
  isAbsent,
  STORED_TOKEN_FIELDS,
  storedTokenFields,
  toListedStoredToken,
} from './codec.js';
import type { RedisClient } from './connection.js';
import type { RedisKeys } from './keys.js';
import * as lua from './scripts.js';

/** Tokens deleted per script call by clear and purge, so no call blocks Redis for long. */
const BATCH = 500;

/**
 * Stored tokens on Redis: hashes, with the sorted-set indexes STORED_TOKEN_PRELUDE names, each
 * change one script (`scripts.ts`). The store runs each call through its availability gate.
 */
export class RedisStoredTokens {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    /** Milliseconds a record's hash lives, from its expiry (the store's `ttlMs`). */
    private readonly ttlMs: (expiresAtMs: number) => number,
  ) {}

  /** Runs a token script with the KEYS and leading ARGV that STORED_TOKEN_PRELUDE expects. */
  private storedTokenScript(
    script: lua.LuaScript,
    args: (string | Buffer | number)[],
    { moreKeys = [], buffers = false }: { moreKeys?: string[]; buffers?: boolean } = {},
  ): Promise<unknown> {
    const { keys } = this;
    return lua.runScript(
      this.client,
      script,
      [keys.tokensBySaved, keys.tokensByExpiry, keys.tokenOwners, ...moreKeys],
      [keys.tokenPrefix, keys.userTokensPrefix, ...args],
      buffers,
    );
  }

  /**
   * Builds the per-key-id sets for tokens written before they existed, once: a walk of the
   * by-saved index in batches (each one script), then a marker. Instances doing it at once add
   * the same members; the scripts keep the sets exact from then on.
   */
  async indexStoredTokensByKid(): Promise<void> {
    if ((await this.client.exists(this.keys.tokensSealedWithBuilt)) === 1) return;
    for (let start = 0; ; start += BATCH) {
      const read = Number(await this.storedTokenScript(lua.INDEX_STORED_TOKENS_BY_KID, [start, BATCH]));
      if (read < BATCH) break;
    }
    await this.client.set(this.keys.tokensSealedWithBuilt, '1');
  }

  async insertStoredToken(token: StoredToken): Promise<void> {
    const { id, userId, savedAtMs, expiresAtMs } = token;
    const ttlMs = this.ttlMs(expiresAtMs);
    await this.storedTokenScript(lua.INSERT_STORED_TOKEN, [
      id,
      userId,
      savedAtMs,
      expiresAtMs,
      ttlMs,
      ...storedTokenFields(token),
    ]);
  }

  async findStoredToken(id: string): Promise<StoredToken | null> {
    // HMGET of fixed fields: an array in a known order, where HGETALL builds an object per read.
    const values = await this.client.hmgetBuffer(this.keys.token(id), ...STORED_TOKEN_FIELDS);
    return isAbsent(values) ? null : fromStoredTokenValues(values);
  }

  /** READ_STORED_TOKEN: the token and, when found, the entries `audit` holds (`auditArgs`). */
  async readStoredToken(id: string, audit: (string | number)[]): Promise<StoredToken | null> {
    const values = (await lua.runScript(
      this.client,
      lua.READ_STORED_TOKEN,
      [this.keys.token(id), this.keys.auditByTime],
      [id, ...audit],
      true,
    )) as (Buffer | null)[];
    return isAbsent(values) ? null : fromStoredTokenValues(values);
  }

  async listStoredTokens(query: StoredTokenQuery): Promise<StoredTokenPage> {
    const [total, ...rows] = (await this.storedTokenScript(
      lua.STORED_TOKEN_PAGE,
      [...this.pageArgs(query, true), 'listed'],
      { moreKeys: this.pageKeys(query) },
    )) as [number, ...(string | null)[][]];
    // A token the TTL removed before the sweeper did has no fields: it is skipped.
    const items = rows.filter((row) => !isAbsent(row)).map(toListedStoredToken);
    return { items, total: Number(total) };
  }

  async findCurrentStoredToken(nowMs: number, userId?: string): Promise<StoredToken | null> {
    const page = await this.storedTokenPage(
      { offset: 0, limit: 1, valid: true, nowMs, ...(userId === undefined ? {} : { userId }) },
      false,
    );
    return page.items[0] ?? null;
  }

  /** `findCurrentStoredToken`, with the entries `audit` holds appended when it finds a token. */
  async readCurrentStoredToken(
    nowMs: number,
    userId: string | undefined,
    audit: (string | number)[],
  ): Promise<StoredToken | null> {
    const query = { offset: 0, limit: 1, valid: true, nowMs, ...(userId === undefined ? {} : { userId }) };
    const page = await this.storedTokenPage(query, false, audit);
    return page.items[0] ?? null;
  }

  /** STORED_TOKEN_PAGE's KEYS[4] and KEYS[5]: the listing order, and scratch space. */
  private pageKeys(query: StoredTokenQuery): string[] {
    const order = query.userId === undefined ? this.keys.tokensBySaved : this.keys.userTokens(query.userId);
    return [order, this.keys.scratch];
  }

  /** STORED_TOKEN_PAGE's ARGV[3] to [8]. */
  private pageArgs(query: StoredTokenQuery, needTotal: boolean): (string | number)[] {
    const filter = query.valid === undefined ? 'any' : query.valid ? 'valid' : 'expired';
    const scoped = query.userId === undefined ? '0' : '1';
    return [query.offset, query.limit, filter, query.nowMs, scoped, needTotal ? '1' : '0'];
  }

  /**
   * See STORED_TOKEN_PAGE for how filters are answered without scanning; `audit`, for a
   * recorded read, the entries to append when the page holds a token.
   */
  private async storedTokenPage(
    query: StoredTokenQuery,
    needTotal: boolean,
    audit: (string | number)[] = [],
  ): Promise<{ items: StoredToken[]; total: number }> {
    const moreKeys = this.pageKeys(query);
    if (audit.length > 0) moreKeys.push(this.keys.auditByTime);
    const [total, ...rows] = (await this.storedTokenScript(
      lua.STORED_TOKEN_PAGE,
      [...this.pageArgs(query, needTotal), 'whole', ...audit],
      { moreKeys, buffers: true },
    )) as [number, ...(Buffer | null)[][]];
    // A token the TTL removed before the sweeper did has no fields: it is skipped.
    const items = rows.filter((values) => !isAbsent(values)).map(fromStoredTokenValues);
    return { items, total: Number(total) };
  }

  async updateStoredToken(id: string, patch: StoredTokenPatch): Promise<StoredToken | null> {
    const { savedAtMs, expiresAtMs } = patch;
    const fields: (string | Buffer)[] = ['savedAtMs', String(savedAtMs)];
    if (patch.kid !== undefined) fields.push('kid', patch.kid);
    if (patch.sealed !== undefined) fields.push('sealed', patch.sealed);
    if (patch.preview !== undefined) fields.push('preview', patch.preview);
    if (expiresAtMs !== undefined) fields.push('expiresAtMs', String(expiresAtMs));
    const expiry = expiresAtMs === undefined ? ['', ''] : [expiresAtMs, this.ttlMs(expiresAtMs)];
    const values = (await this.storedTokenScript(
      lua.UPDATE_STORED_TOKEN,
      [id, savedAtMs, ...expiry, ...fields],
      {
        buffers: true,
      },
    )) as (Buffer | null)[] | null;
    return values === null ? null : fromStoredTokenValues(values);
  }

  async deleteStoredToken(id: string): Promise<boolean> {
    return Number(await this.storedTokenScript(lua.DELETE_STORED_TOKEN, [id])) === 1;
  }

  /** Deletes in batches of 500: each batch is atomic, the whole is not (tokens saved meanwhile may stay). */
  clearStoredTokens(): Promise<number> {
    return this.inBatches(lua.CLEAR_STORED_TOKENS, []);
  }

  /** Deletes in batches of 500, each atomic. */
  purgeStoredTokens(beforeMs: number): Promise<number> {
    return this.inBatches(lua.PURGE_STORED_TOKENS, [beforeMs]);
  }

  /** Runs a batch script (whose last argument is the batch size) until a batch comes back short. */
  private async inBatches(script: lua.LuaScript, args: number[]): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = Number(await this.storedTokenScript(script, [...args, BATCH]));
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }

  async listStoredTokensSealedWith(kid: string, limit: number): Promise<StoredToken[]> {
    const [, ...rows] = (await this.storedTokenScript(lua.STORED_TOKENS_SEALED_WITH, [kid, limit], {
      buffers: true,
    })) as [number, ...(Buffer | null)[][]];
    return rows.map(fromStoredTokenValues);
  }

  async countStoredTokensSealedWith(kid: string): Promise<number> {
    const [count] = (await this.storedTokenScript(lua.STORED_TOKENS_SEALED_WITH, [kid, 0])) as [number];
    return Number(count);
  }

  async resealStoredToken(
    id: string,
    fromKid: string,
    to: { kid: string; sealed: Buffer },
  ): Promise<boolean> {
    return (
      Number(await this.storedTokenScript(lua.RESEAL_STORED_TOKEN, [id, fromKid, to.kid, to.sealed])) === 1
    );
  }
}
