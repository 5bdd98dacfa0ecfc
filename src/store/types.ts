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

export interface StoredTokenPage {
  items: StoredToken[];
  /** Rows matching the query's filters, ignoring offset and limit. */
  total: number;
}

/** What a store tells every instance, so in-memory session state stays exact. */
export type SessionEvent =
  | { type: 'created'; jti: string }
  | { type: 'revoked'; jtis: string[] }
  | { type: 'version'; version: number };

export interface FeedListener {
  event(event: SessionEvent): void;
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
  findStoredToken(id: string): Promise<StoredToken | null>;
  /** Newest `savedAtMs` first, ties by id descending. */
  listStoredTokens(query: StoredTokenQuery): Promise<StoredTokenPage>;
  /** The most recently saved token with `expiresAtMs > nowMs`, optionally for one user. */
  findCurrentStoredToken(nowMs: number, userId?: string): Promise<StoredToken | null>;
  /** Applies the patch; null when the id is unknown. */
  updateStoredToken(id: string, patch: StoredTokenPatch): Promise<StoredToken | null>;
  deleteStoredToken(id: string): Promise<boolean>;
  /** Deletes every stored token. Returns how many. */
  clearStoredTokens(): Promise<number>;
  /** Deletes tokens that expired before `beforeMs`. Returns how many. */
  purgeStoredTokens(beforeMs: number): Promise<number>;

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
