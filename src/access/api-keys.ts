import { hash } from 'node:crypto';
import { LastSeenBatcher } from '../admin/last-seen.js';
import type { Clock, RandomSource } from '../clock.js';
import { FeedFollower } from '../store/feed/follower.js';
import type { ApiKeyRecord, ApiKeyScope, Store } from '../store/types.js';
import { createUlidGenerator } from '../ulid.js';

/** What a request made with an API key may do. */
export interface ApiKeyCaller {
  id: string;
  scopes: readonly ApiKeyScope[];
}

/** `tsk_` and 43 base64url characters: 256 random bits. */
const KEY_FORMAT = /^tsk_[A-Za-z0-9_-]{43}$/;

/** True for text shaped like an API key (so a bearer credential is an API key, not a JWT). */
export const looksLikeApiKey = (text: string): boolean => text.startsWith('tsk_');

const keyHash = (key: string): string => hash('sha256', key, 'hex');

export interface ApiKeysOptions {
  store: Store;
  clock: Clock;
  random: RandomSource;
  onError(error: unknown, context: string): void;
}

/**
 * Scoped API keys for applications. A key is shown once, at creation; only its SHA-256 is
 * kept (a key has 256 random bits, so a fast hash is enough, and looking a key up by its hash
 * leaks nothing about the key through timing). Keys that checked out are remembered in
 * memory, kept exact by the change feed: a key revoked on any instance is refused everywhere
 * as soon as the event arrives, and while the feed is down every check reads the store.
 */
export class ApiKeys {
  /** Key hash to the key, for keys that checked out (so garbage cannot fill it). */
  private readonly known = new Map<string, ApiKeyCaller>();
  private readonly feed: FeedFollower;
  private readonly lastUsed: LastSeenBatcher;
  private readonly newId: () => string;

  constructor(private readonly options: ApiKeysOptions) {
    this.newId = createUlidGenerator('key_', options.clock, options.random);
    this.feed = new FeedFollower(options.store, {
      what: 'API key feed',
      onError: options.onError,
      event: (event) => {
        if (event.type !== 'api_key_revoked') return;
        for (const [hashed, key] of this.known) if (key.id === event.id) this.known.delete(hashed);
      },
      resync: () => this.known.clear(),
    });
    this.lastUsed = new LastSeenBatcher({
      write: (batch) => options.store.touchApiKeys(batch),
      what: 'API key last_used_at',
      clock: options.clock,
      capacity: 10_000,
      onError: options.onError,
    });
  }

  start(): void {
    this.feed.start();
    this.lastUsed.start();
  }

  async stop(): Promise<void> {
    this.feed.stop();
    await this.lastUsed.stop();
  }

  /** Makes a key; the returned `key` is the only time it exists outside the caller's hands. */
  async create(name: string, scopes: ApiKeyScope[]): Promise<{ record: ApiKeyRecord; key: string }> {
    const key = `tsk_${this.options.random(32).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id: this.newId(),
      name,
      scopes: [...new Set(scopes)],
      keyHash: keyHash(key),
      createdAtMs: this.options.clock.now(),
      lastUsedAtMs: null,
      revokedAtMs: null,
    };
    await this.options.store.createApiKey(record);
    return { record, key };
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.options.store.listApiKeys();
  }

  /** True when this call revoked the key; false for unknown or already revoked ids. */
  revoke(id: string): Promise<boolean> {
    return this.options.store.revokeApiKey(id, this.options.clock.now());
  }

  /** `verify`'s answer for a key memory holds, with no promise made; undefined otherwise. */
  verifyNow(presented: string): ApiKeyCaller | undefined {
    if (!this.feed.isLive || !KEY_FORMAT.test(presented)) return undefined;
    const key = this.known.get(keyHash(presented));
    if (key !== undefined) this.lastUsed.note(key.id);
    return key;
  }

  /** The key's id and scopes, or null for anything that is not a live key. */
  async verify(presented: string): Promise<ApiKeyCaller | null> {
    if (!KEY_FORMAT.test(presented)) return null;
    const hashed = keyHash(presented);
    let key = this.feed.isLive ? this.known.get(hashed) : undefined;
    if (key === undefined) {
      const epoch = this.feed.epoch;
      const record = await this.options.store.findApiKeyByHash(hashed);
      if (record === null || record.revokedAtMs !== null) return null;
      key = { id: record.id, scopes: record.scopes };
      if (this.feed.isLive && epoch === this.feed.epoch) this.known.set(hashed, key);
    }
    this.lastUsed.note(key.id);
    return key;
  }
}
