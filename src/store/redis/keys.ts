/**
 * Where a store keeps what. Every key starts with the configured prefix (so ACLs and
 * `SCAN MATCH prefix*` find them) followed by one hash tag, `{tessera}`; the config refuses
 * braces in the prefix, so that tag is always the one Redis Cluster hashes.
 *
 * One hash tag puts all of a store's data in one cluster slot, hence on one node. That is
 * what makes the multi-key Lua scripts and their atomicity legal on Redis Cluster, and it is
 * the right trade here: admin sessions are few, and stored tokens are small (a few hundred
 * bytes each, so a million fit in well under 1 GB). Spreading tokens over slots would need
 * a cross-slot index for listing and totals, losing the one-script atomicity of every
 * insert, update and delete. A cluster still helps: other data sits on the other nodes, and
 * failover works as usual.
 */
export class RedisKeys {
  private readonly base: string;
  /** Pub/sub channel of the change feed. Channels are not keys and need no hash tag. */
  readonly channel: string;

  constructor(prefix: string) {
    this.base = `${prefix}{tessera}:`;
    this.channel = `${prefix}events`;
  }

  /** Global session version (the contract's token version): a counter, initialised to 1 by migrate. */
  get version(): string {
    return `${this.base}version`;
  }
  get adminKeyHash(): string {
    return `${this.base}admin-key-hash`;
  }
  /** Layout version of these keys (see `migrate`). */
  get schema(): string {
    return `${this.base}schema`;
  }

  /** Prefix of the session hashes: `<prefix>{tessera}:session:<jti>`. */
  get sessionPrefix(): string {
    return `${this.base}session:`;
  }
  session(jti: string): string {
    return this.sessionPrefix + jti;
  }
  /** Sorted set of jtis scored by createdAtMs: the listing order. */
  get sessionsByCreated(): string {
    return `${this.base}sessions:by-created`;
  }
  /** Sorted set of jtis scored by exp (seconds): revoke-others and purge. */
  get sessionsByExp(): string {
    return `${this.base}sessions:by-exp`;
  }

  /** Prefix of the token hashes: `<prefix>{tessera}:token:<id>`. */
  get tokenPrefix(): string {
    return `${this.base}token:`;
  }
  token(id: string): string {
    return this.tokenPrefix + id;
  }
  /** Sorted set of token ids scored by savedAtMs: the listing order. */
  get tokensBySaved(): string {
    return `${this.base}tokens:by-saved`;
  }
  /** Sorted set of token ids scored by expiresAtMs: validity counts and purge. */
  get tokensByExpiry(): string {
    return `${this.base}tokens:by-expiry`;
  }
  /** Prefix of the per-user sorted sets of token ids scored by savedAtMs. */
  get userTokensPrefix(): string {
    return `${this.base}tokens:user:`;
  }
  userTokens(userId: string): string {
    return this.userTokensPrefix + userId;
  }
  /** Hash of token id to userId (see STORED_TOKEN_PRELUDE in scripts.ts). */
  get tokenOwners(): string {
    return `${this.base}tokens:owner`;
  }
  /**
   * Prefix of the sets of token ids sealed under each key id (`tokens:kid:<kid>`), which find
   * what a reseal has left. The scripts derive it from `tokenPrefix` (see STORED_TOKEN_PRELUDE).
   */
  get tokensSealedWithPrefix(): string {
    return `${this.base}tokens:kid:`;
  }
  /** Hash of token id to the key id it is sealed under: the sets' bookkeeping, as tokenOwners is. */
  get tokenKids(): string {
    return `${this.base}tokens:kid-of`;
  }
  /** Set once the per-key-id sets cover every token (they were added after the first layout). */
  get tokensSealedWithBuilt(): string {
    return `${this.base}tokens:kid-index-built`;
  }
  /** Prefix of the API key hashes: `<prefix>{tessera}:api-key:<id>`. */
  get apiKeyPrefix(): string {
    return `${this.base}api-key:`;
  }
  /** Hash of key hash (SHA-256 hex) to API key id. */
  get apiKeysByHash(): string {
    return `${this.base}api-keys:by-hash`;
  }
  /** Sorted set of the ids of keys not revoked, scored by createdAtMs. */
  get apiKeysByCreated(): string {
    return `${this.base}api-keys:by-created`;
  }
  /**
   * The audit trail: a sorted set of every entry, scored by atMs, each member the entry itself
   * (`<id> <JSON of the other fields>`), so an entry costs no key of its own.
   */
  get auditByTime(): string {
    return `${this.base}audit-log:by-time`;
  }
  /**
   * Prefix of the per-action sorted sets, holding the same members as `auditByTime`, for every
   * action but token reads (see `auditReads`).
   */
  get auditByActionPrefix(): string {
    return `${this.base}audit-log:action:`;
  }
  /**
   * The token reads' action set, which holds their ids alone (scored by atMs): reads are most of
   * a busy trail, and a short member is the cheaper write (see AUDIT_TRAIL in scripts.ts).
   */
  get auditReads(): string {
    return `${this.base}audit-log:reads`;
  }
  /**
   * Key layout 1's audit trail: a hash per entry under this prefix, a sorted set of their ids
   * by atMs, and one per action. `migrate` moves it into the sorted sets above, and the audit
   * sweep moves what instances of layout 1 still write during a rolling upgrade.
   */
  get legacyAuditPrefix(): string {
    return `${this.base}audit:`;
  }
  /** Layout 1's sorted set of audit entry ids, scored by atMs. */
  get legacyAuditByTime(): string {
    return `${this.base}audit:by-time`;
  }
  /** Prefix of layout 1's per-action sorted sets of audit entry ids. */
  get legacyAuditByActionPrefix(): string {
    return `${this.base}audit:action:`;
  }
  /** Prefix of the throttle hashes: `<prefix>{tessera}:throttle:<subject>`. */
  get throttlePrefix(): string {
    return `${this.base}throttle:`;
  }
  /** Sorted set of throttle subjects, scored by the later of their last change and lock end. */
  get throttlesByExpiry(): string {
    return `${this.base}throttles:by-expiry`;
  }
  /** Scratch sorted set of one listing script, created and deleted inside it. */
  get scratch(): string {
    return `${this.base}scratch`;
  }
}
