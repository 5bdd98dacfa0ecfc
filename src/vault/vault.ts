import type { Clock, RandomSource } from '../clock.js';
import type { EncryptionKey } from '../config.js';
import { TesseraError } from '../errors.js';
import type { AuditEntry, ListedStoredToken, Store, StoredToken } from '../store/types.js';
import { isValidAt, secondsRemaining } from './expiry.js';
import { createStoredTokenIdGenerator, isStoredTokenId } from './ids.js';
import { tokenPreview } from './preview.js';
import type { KeyRing } from './seal.js';
import { createKeyRing, openToken, sealToken } from './seal.js';

/** A stored token as listings show it: masked, never opened. */
export interface StoredTokenSummary {
  id: string;
  userId: string;
  preview: string;
  expiresAtMs: number;
  /** expiresAtMs is after the time of the read. */
  isValid: boolean;
  savedAtMs: number;
}

/** A token just stored: its summary and when it was created. */
export interface SavedStoredToken extends StoredTokenSummary {
  createdAtMs: number;
}

/** A stored token opened for a caller who asked for it by id (or for the current one). */
export interface OpenedStoredToken extends Omit<StoredTokenSummary, 'preview'> {
  token: string;
}

/** What `validity` reports about the current token; with none, not valid and no expiry. */
export interface StoredTokenValidity {
  isValid: boolean;
  expiresAtMs: number | null;
  /** Whole seconds, rounded down, never negative. */
  secondsRemaining: number;
}

export interface StoredTokenListQuery {
  /** 1-based. */
  page: number;
  limit: number;
  userId?: string;
  valid?: boolean;
}

/** What one reseal call did: tokens moved to the sealing key, and those still under older keys. */
export interface ResealProgress {
  resealed: number;
  remaining: number;
}

/** Tokens read per batch by a reseal. */
const RESEAL_BATCH = 100;
/** How long one reseal call works before it answers (callers call again to go on). */
const RESEAL_BUDGET_MS = 2000;

export interface VaultOptions {
  store: Store;
  /** `TOKEN_ENCRYPTION_KEYS`: the first key seals, every key opens. */
  keys: readonly EncryptionKey[];
  clock: Clock;
  random: RandomSource;
}

/**
 * Session-token storage: seals on the way in, opens on the way out, and judges validity by
 * the injected clock at read time. The clear token exists only in memory on this side of the
 * store port; the store sees the sealed bytes and a masked preview. No HTTP in here.
 */
export class Vault {
  private readonly store: Store;
  private readonly ring: KeyRing;
  /** The key ids of the ring other than the sealing one: what a reseal moves away from. */
  private readonly olderKids: string[];
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly newId: () => string;
  /**
   * The record last opened, and its token: the requests handed one record object by a shared
   * read are answered one after another, in one turn, and open it once. Forgotten when the
   * turn ends (`forgetOpened`), so no clear token outlives the turn it was asked for in.
   */
  private lastOpened: { record: StoredToken; token: string } | null = null;
  private readonly forgetOpened = (): void => {
    this.lastOpened = null;
  };

  /** Throws ConfigError for an unusable key ring, so a bad one stops start-up. */
  constructor(options: VaultOptions) {
    this.store = options.store;
    this.ring = createKeyRing(options.keys);
    this.olderKids = options.keys.slice(1).map((key) => key.kid);
    this.clock = options.clock;
    this.random = options.random;
    this.newId = createStoredTokenIdGenerator(options.clock, options.random);
  }

  /** Seals and stores a new token; `savedAtMs` and `createdAtMs` are both now. */
  async save(input: { userId: string; token: string; expiresAtMs: number }): Promise<SavedStoredToken> {
    const nowMs = this.clock.now();
    const id = this.newId();
    const record: StoredToken = {
      id,
      userId: input.userId,
      ...sealToken(this.ring, id, input.token, this.random),
      preview: tokenPreview(input.token),
      expiresAtMs: input.expiresAtMs,
      savedAtMs: nowMs,
      createdAtMs: nowMs,
    };
    await this.store.insertStoredToken(record);
    return { ...summarise(record, nowMs), createdAtMs: nowMs };
  }

  /** One page, newest `savedAtMs` first, and the number of tokens matching the filters. */
  async list(query: StoredTokenListQuery): Promise<{ items: StoredTokenSummary[]; total: number }> {
    const nowMs = this.clock.now();
    const page = await this.store.listStoredTokens({
      offset: (query.page - 1) * query.limit,
      limit: query.limit,
      ...(query.userId === undefined ? {} : { userId: query.userId }),
      ...(query.valid === undefined ? {} : { valid: query.valid }),
      nowMs,
    });
    return { items: page.items.map((record) => summarise(record, nowMs)), total: page.total };
  }

  /**
   * The whole token, its read recorded by `entry` (written with the read when the token is
   * there: `Store.readStoredToken`). Throws TOKEN_NOT_FOUND, SEALING_KEY_MISSING or
   * TOKEN_UNREADABLE.
   */
  async get(id: string, entry: AuditEntry): Promise<OpenedStoredToken> {
    const record = isStoredTokenId(id) ? await this.store.readStoredToken(id, entry) : null;
    if (record === null) throw notFound(id);
    return this.open(record, this.clock.now());
  }

  /** The most recently saved token that is still valid (for one user, if given), recorded as `get`'s. */
  async current(userId: string | undefined, entry: AuditEntry): Promise<OpenedStoredToken> {
    const nowMs = this.clock.now();
    const record = await this.store.readCurrentStoredToken(nowMs, userId, entry);
    if (record === null) {
      const whose = userId === undefined ? '' : ` for user_id ${JSON.stringify(userId)}`;
      throw new TesseraError('TOKEN_NOT_FOUND', `No stored token is currently valid${whose}`);
    }
    return this.open(record, nowMs);
  }

  /** Describes the token `current` would return, without opening it. */
  async validity(userId?: string): Promise<StoredTokenValidity> {
    const nowMs = this.clock.now();
    const record = await this.store.findCurrentStoredToken(nowMs, userId);
    if (record === null) return { isValid: false, expiresAtMs: null, secondsRemaining: 0 };
    return {
      isValid: isValidAt(record.expiresAtMs, nowMs),
      expiresAtMs: record.expiresAtMs,
      secondsRemaining: secondsRemaining(record.expiresAtMs, nowMs),
    };
  }

  /**
   * Replaces the token, the expiry or both, and moves `savedAtMs` to now. A new token is
   * sealed under the current sealing key, so updates also migrate records to a rotated key.
   */
  async update(id: string, change: { token?: string; expiresAtMs?: number }): Promise<StoredTokenSummary> {
    if (!isStoredTokenId(id)) throw notFound(id);
    const nowMs = this.clock.now();
    const resealed =
      change.token === undefined
        ? {}
        : { ...sealToken(this.ring, id, change.token, this.random), preview: tokenPreview(change.token) };
    const record = await this.store.updateStoredToken(id, {
      ...resealed,
      ...(change.expiresAtMs === undefined ? {} : { expiresAtMs: change.expiresAtMs }),
      savedAtMs: nowMs,
    });
    if (record === null) throw notFound(id);
    return summarise(record, nowMs);
  }

  /** Deletes one token; TOKEN_NOT_FOUND when there is none by that id. */
  async remove(id: string): Promise<void> {
    if (!isStoredTokenId(id) || !(await this.store.deleteStoredToken(id))) throw notFound(id);
  }

  /** Deletes every stored token. Returns how many. */
  clear(): Promise<number> {
    return this.store.clearStoredTokens();
  }

  /**
   * Re-seals stored tokens sealed under older keys of the ring with the sealing (first) key,
   * in batches, for up to a couple of seconds; call again until `remaining` is 0, at which
   * point the older keys open nothing and may leave the ring. Safe while serving and from
   * several instances at once: a token updated meanwhile (sealed afresh) is left alone, and
   * `savedAtMs` does not move. Measured in wall time on purpose (`performance.now`): the
   * budget bounds work, it is not domain time.
   */
  async reseal(): Promise<ResealProgress> {
    const started = performance.now();
    const to = this.ring.sealing.kid;
    let resealed = 0;
    // Tokens that do not open (tampered with): left where they are, and counted as remaining.
    const unreadable = new Set<string>();
    for (const from of this.olderKids) {
      while (performance.now() - started < RESEAL_BUDGET_MS) {
        const batch = (
          await this.store.listStoredTokensSealedWith(from, RESEAL_BATCH + unreadable.size)
        ).filter((record) => !unreadable.has(record.id));
        if (batch.length === 0) break;
        for (const record of batch) {
          let token: string;
          try {
            token = openToken(this.ring, record.id, record);
          } catch {
            unreadable.add(record.id);
            continue;
          }
          const sealed = sealToken(this.ring, record.id, token, this.random);
          if (await this.store.resealStoredToken(record.id, from, { kid: to, sealed: sealed.sealed }))
            resealed++;
        }
      }
    }
    let remaining = 0;
    for (const from of this.olderKids) remaining += await this.store.countStoredTokensSealedWith(from);
    return { resealed, remaining };
  }

  private open(record: StoredToken, nowMs: number): OpenedStoredToken {
    let token: string;
    if (this.lastOpened?.record === record) token = this.lastOpened.token;
    else {
      token = openToken(this.ring, record.id, record);
      // While one is kept, its forgetting is already due: one setImmediate per turn at most.
      if (this.lastOpened === null) setImmediate(this.forgetOpened);
      this.lastOpened = { record, token };
    }
    return {
      id: record.id,
      userId: record.userId,
      token,
      expiresAtMs: record.expiresAtMs,
      isValid: isValidAt(record.expiresAtMs, nowMs),
      savedAtMs: record.savedAtMs,
    };
  }
}

function summarise(record: ListedStoredToken, nowMs: number): StoredTokenSummary {
  return {
    id: record.id,
    userId: record.userId,
    preview: record.preview,
    expiresAtMs: record.expiresAtMs,
    isValid: isValidAt(record.expiresAtMs, nowMs),
    savedAtMs: record.savedAtMs,
  };
}

function notFound(id: string): TesseraError {
  // A malformed id is not echoed: it cannot name a record, and may be long or hostile.
  return new TesseraError(
    'TOKEN_NOT_FOUND',
    isStoredTokenId(id)
      ? `Stored token ${id} not found`
      : 'Stored token not found: ids are "store_" followed by 26 characters',
  );
}
