/**
 * The store port: what the domain needs from a backend, nothing more. Every backend
 * (SQLite, Postgres, Redis) implements it and passes the one contract suite in
 * `test/store-contract.ts`. Times are Unix **seconds** where the name says `Seconds` or
 * comes from a JWT claim (`iat`, `exp`), and **milliseconds** where it ends in `Ms`.
 * Rows never leave a backend: methods take and return these domain types only.
 */

/** An admin session as stored. Its status is derived (see `sessionStatus`). */
export interface SessionRecord {
  jti: string;
  /** JWT `iat`, Unix seconds. */
  iat: number;
  /** JWT `exp`, Unix seconds. */
  exp: number;
  /** Session version the session was issued under (the JWT claim `v`). */
  v: number;
  /** Creation time in ms (orders the listing; finer than `iat`). */
  createdAtMs: number;
  /** When the session was revoked one by one (logout, revoke, revoke-others), ms; null if not. */
  revokedAtMs: number | null;
  ip: string | null;
  userAgent: string | null;
  /** Last time the session was used, ms; written lazily (at most once a minute). */
  lastSeenAtMs: number | null;
}

export type NewSession = Omit<SessionRecord, 'revokedAtMs' | 'lastSeenAtMs'>;

/** A stored session token, sealed. The clear token never reaches a backend. */
export interface StoredToken {
  id: string;
  userId: string;
  /** Key id of the key that sealed it. */
  kid: string;
  /** AES-256-GCM output: nonce (12 bytes) || ciphertext || tag (16 bytes). */
  sealed: Buffer;
  /** Masked preview, computed at seal time so listings never decrypt. */
  preview: string;
  expiresAtMs: number;
  savedAtMs: number;
  createdAtMs: number;
}

export interface StoredTokenPatch {
  kid?: string;
  sealed?: Buffer;
  preview?: string;
  expiresAtMs?: number;
  savedAtMs: number;
}

export interface StoredTokenQuery {
  /** Zero-based row offset. */
  offset: number;
  limit: number;
  userId?: string;
  /** true: expiresAtMs > nowMs; false: expiresAtMs <= nowMs. */
  valid?: boolean;
  nowMs: number;
}

/**
 * A stored token as a listing shows it: not the sealed token nor its key id, nor its creation
 * time, which a listing does not show (each value read costs a listing of 50 rows 50 times).
 */
export type ListedStoredToken = Omit<StoredToken, 'kid' | 'sealed' | 'createdAtMs'>;

export interface StoredTokenPage {
  items: ListedStoredToken[];
  /** Rows matching the query's filters, ignoring offset and limit. */
  total: number;
}

/** What an API key may do. `metrics:read` is for the metrics endpoint. */
export const API_KEY_SCOPES = ['storage:read', 'storage:write', 'sessions:read', 'metrics:read'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** An API key as stored: only the SHA-256 of the key itself is kept. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  /** SHA-256 hex of the whole key (`tsk_...`). */
  keyHash: string;
  createdAtMs: number;
  lastUsedAtMs: number | null;
  revokedAtMs: number | null;
}

export type NewApiKey = Omit<ApiKeyRecord, 'lastUsedAtMs' | 'revokedAtMs'>;

/** One line of the audit trail. Never holds a secret, a token or a key. */
export interface AuditEntry {
  id: string;
  atMs: number;
  action: string;
  /** `admin_key`, `session:<jti>`, `api_key:<id>`, or `anonymous` for a failed attempt. */
  actor: string;
  ip: string | null;
  userAgent: string | null;
  /** What was acted on: a jti, an API key id, a stored-token id, an address. */
  target: string | null;
  reason: string | null;
}

export interface AuditQuery {
  offset: number;
  limit: number;
  action?: string;
}

/** Failed key attempts of one subject (a client address, or the global count). */
export interface ThrottleRecord {
  /** Failures counted since `windowStartMs`. */
  failures: number;
  windowStartMs: number;
  /** Until when attempts are refused unchecked; 0 when not locked. */
  lockedUntilMs: number;
  /** How many times the subject has been locked out so far (sets the next lockout's length). */
  lockouts: number;
}

/**
 * What a store tells every instance, so what each keeps in memory stays exact: sessions
 * created and revoked, a new session version, an API key revoked, a new admin key, an
 * address locked out after failed key attempts.
 */
export type FeedEvent =
  | { type: 'created'; jti: string; iat: number; exp: number; v: number }
  | { type: 'revoked'; jtis: string[] }
  | { type: 'version'; version: number }
  | { type: 'api_key_revoked'; id: string }
  | { type: 'admin_key_rotated' }
  | { type: 'throttled'; subject: string; untilMs: number };

export interface FeedListener {
  event(event: FeedEvent): void;
  /** The feed is connected (again): state may have been missed, so resynchronise. */
  up(): void;
  /** The feed is lost: until `up`, nothing may be trusted from memory. */
  down(): void;
}

export interface Store {
  readonly backend: 'sqlite' | 'postgres' | 'redis';

  /** Applies pending migrations. Safe to call from many instances at once. */
  migrate(): Promise<void>;
  /** Cheap round trip; rejects with StoreUnavailableError when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // --- settings -----------------------------------------------------------------------
  getAdminKeyHash(): Promise<string | null>;
  /** Sets the admin key hash unless one is set. Atomic: the first writer wins; returns the hash in force. */
  initAdminKeyHash(hash: string): Promise<string>;

  // --- admin sessions -----------------------------------------------------------------
  /** Current global session version; 1 on a new store. */
  getSessionVersion(): Promise<number>;
  /** Increments the global version. Atomic: concurrent calls each get a distinct version. */
  bumpSessionVersion(): Promise<number>;
  createSession(session: NewSession): Promise<void>;
  findSession(jti: string): Promise<SessionRecord | null>;
  /** Every session kept (active or not), newest `createdAtMs` first. */
  listSessions(): Promise<SessionRecord[]>;
  /**
   * Jtis of the sessions revoked one by one whose `exp` is after `nowSeconds`, in no particular
   * order: with the version, what every session check needs to know (the event stream's snapshot).
   */
  listRevokedSessions(nowSeconds: number): Promise<string[]>;
  /**
   * Revokes the session if it is active at `nowMs`: not revoked, `exp` in the future and `v`
   * equal to the current version. Atomic: of concurrent calls for one jti exactly one gets true.
   */
  revokeSession(jti: string, nowMs: number): Promise<boolean>;
  /** Revokes every active session but `exceptJti` (null: all). Returns the jtis it revoked. */
  revokeOtherSessions(exceptJti: string | null, nowMs: number): Promise<string[]>;
  /** Records last use; `seen` maps jti to ms. Best effort, batched by the caller. */
  touchSessions(seen: Map<string, number>): Promise<void>;
  /** Deletes sessions whose `exp` is before `beforeSeconds`. Returns how many. */
  purgeSessions(beforeSeconds: number): Promise<number>;

  // --- stored tokens ------------------------------------------------------------------
  insertStoredToken(token: StoredToken): Promise<void>;
  /**
   * Lookups of one id made in one event-loop turn get one record object, from one read (the
   * vault opens it once). Nothing is kept between turns, and a lookup sees every write
   * answered before it was made.
   */
  findStoredToken(id: string): Promise<StoredToken | null>;
  /**
   * Newest `savedAtMs` first, ties by id descending. Requests for one page made in one event-loop
   * turn may share one read and one result (stores whose reads are round trips do), as
   * `findStoredToken`'s lookups do; none is kept past its turn.
   */
  listStoredTokens(query: StoredTokenQuery): Promise<StoredTokenPage>;
  /**
   * The most recently saved token with `expiresAtMs > nowMs`, optionally for one user. Lookups
   * at one `nowMs` for one user made in one event-loop turn get one record object, from one
   * read, as `findStoredToken`'s do.
   */
  findCurrentStoredToken(nowMs: number, userId?: string): Promise<StoredToken | null>;
  /**
   * A caller's read of a stored token, recorded: `findStoredToken`, and when it finds the token,
   * `entry` (its target set to the token's id) appended to the audit trail together with it
   * (one round trip, one statement or one commit), settling once both are done. A read whose
   * entry cannot be written fails: no token is handed out unrecorded.
   */
  readStoredToken(id: string, entry: AuditEntry): Promise<StoredToken | null>;
  /** `findCurrentStoredToken`, recorded as `readStoredToken` records. */
  readCurrentStoredToken(
    nowMs: number,
    userId: string | undefined,
    entry: AuditEntry,
  ): Promise<StoredToken | null>;
  /** Applies the patch; null when the id is unknown. */
  updateStoredToken(id: string, patch: StoredTokenPatch): Promise<StoredToken | null>;
  deleteStoredToken(id: string): Promise<boolean>;
  /** Deletes every stored token. Returns how many. */
  clearStoredTokens(): Promise<number>;
  /** Deletes tokens that expired before `beforeMs`. Returns how many. */
  purgeStoredTokens(beforeMs: number): Promise<number>;
  /** Up to `limit` stored tokens sealed under key `kid`, in no particular order. */
  listStoredTokensSealedWith(kid: string, limit: number): Promise<StoredToken[]>;
  /** How many stored tokens are sealed under key `kid`. */
  countStoredTokensSealedWith(kid: string): Promise<number>;
  /**
   * Replaces the sealed value of a token still sealed under `fromKid` (so a concurrent update,
   * which seals afresh, wins), leaving everything else, `savedAtMs` included, alone. False when
   * the token is gone or no longer sealed under `fromKid`.
   */
  resealStoredToken(id: string, fromKid: string, to: { kid: string; sealed: Buffer }): Promise<boolean>;

  /** Replaces the admin key hash (rotation) and tells every instance (`admin_key_rotated`). */
  rotateAdminKeyHash(hash: string): Promise<void>;

  // --- API keys -----------------------------------------------------------------------
  createApiKey(key: NewApiKey): Promise<void>;
  /** The key whose hash this is, revoked or not; null when none. */
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  /** Keys not revoked, newest first. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /**
   * Revokes a key that is not revoked yet and tells every instance (`api_key_revoked`).
   * Atomic: of concurrent calls for one id exactly one gets true.
   */
  revokeApiKey(id: string, nowMs: number): Promise<boolean>;
  /** Records last use; `seen` maps id to ms. Best effort, batched by the caller. */
  touchApiKeys(seen: Map<string, number>): Promise<void>;

  // --- audit trail --------------------------------------------------------------------
  /** Appends the entries, all or none (one transaction where the backend has them). */
  appendAudit(entries: readonly AuditEntry[]): Promise<void>;
  /** Newest `atMs` first (ties by id descending), optionally one action; total ignores paging. */
  listAudit(query: AuditQuery): Promise<{ items: AuditEntry[]; total: number }>;
  /** Deletes entries older than `beforeMs`. Returns how many. */
  purgeAudit(beforeMs: number): Promise<number>;

  // --- throttling ---------------------------------------------------------------------
  /**
   * Counts one failed attempt of `subject`. Atomic: concurrent failures are all counted. A
   * window that began more than `windowMs` ago starts again with this failure. Returns the
   * record after counting.
   */
  addFailure(subject: string, nowMs: number, windowMs: number): Promise<ThrottleRecord>;
  /**
   * Locks `subject` out until `untilMs` (never shortening a longer lock), counts the lockout,
   * restarts its window, and tells every instance (`throttled`).
   */
  lockOut(subject: string, untilMs: number, nowMs: number): Promise<void>;
  findThrottle(subject: string): Promise<ThrottleRecord | null>;
  /** Deletes records neither locked nor counting after `beforeMs`. Returns how many. */
  purgeThrottles(beforeMs: number): Promise<number>;

  // --- change feed --------------------------------------------------------------------
  /**
   * Delivers session events from every instance, this one included: an instance's own events
   * reach its listeners exactly once, before the mutating call resolves. The listener gets
   * `up()` once the feed is live, `down()` when events may be lost (and when the store
   * closes), and a `down()`/`up()` pair when the backend learns of changes it has no events
   * for (SQLite: another process committed to the file). A listener that throws affects
   * neither the others nor the feed. Returns an unsubscribe function.
   */
  subscribe(listener: FeedListener): () => void;
}
