import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../../errors.js';
import type {
  FeedListener,
  NewSession,
  SessionEvent,
  SessionRecord,
  Store,
  StoredToken,
  StoredTokenPage,
  StoredTokenPatch,
  StoredTokenQuery,
} from '../types.js';
import { sqliteMigrations } from './migrations.js';
import { countTokensSql, currentTokenSql, tokenPageSql } from './token-queries.js';

interface SessionRow {
  jti: string;
  iat: number;
  exp: number;
  v: number;
  created_at_ms: number;
  revoked_at_ms: number | null;
  ip: string | null;
  user_agent: string | null;
  last_seen_at_ms: number | null;
}

interface TokenRow {
  id: string;
  user_id: string;
  kid: string;
  sealed: Buffer;
  preview: string;
  expires_at_ms: number;
  saved_at_ms: number;
  created_at_ms: number;
}

const toSession = (row: SessionRow): SessionRecord => ({
  jti: row.jti,
  iat: row.iat,
  exp: row.exp,
  v: row.v,
  createdAtMs: row.created_at_ms,
  revokedAtMs: row.revoked_at_ms,
  ip: row.ip,
  userAgent: row.user_agent,
  lastSeenAtMs: row.last_seen_at_ms,
});

const toToken = (row: TokenRow): StoredToken => ({
  id: row.id,
  userId: row.user_id,
  kid: row.kid,
  sealed: row.sealed,
  preview: row.preview,
  expiresAtMs: row.expires_at_ms,
  savedAtMs: row.saved_at_ms,
  createdAtMs: row.created_at_ms,
});

/** SQLite error codes that mean "the file is not usable now", not "the query is wrong". */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY|CORRUPT|NOTADB)/;

/**
 * The embedded backend: one better-sqlite3 connection in WAL mode. Every statement runs on
 * the Node thread, so each method is atomic; multi-statement changes use a transaction.
 */
export interface SqliteStoreOptions {
  /**
   * Least time between two reads of `PRAGMA data_version` by `pollFeed`, in ms. The read
   * costs 4-9 us, a tenth of a whole session check, so it is not done on every check: a
   * commit by another process is seen by checks that start this long after it. 0: every check.
   */
  crossProcessPollMs?: number;
}

export class SqliteStore implements Store {
  readonly backend = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly feed = new EventEmitter();
  private readonly feedListeners = new Set<FeedListener>();
  private readonly statements = new Map<string, Database.Statement>();
  private dataVersion: number | null = null;
  private dataVersionQuery: Database.Statement | null = null;

  private readonly crossProcessPollMs: number;
  private lastPollAt = Number.NEGATIVE_INFINITY;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.crossProcessPollMs = options.crossProcessPollMs ?? 1;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma('foreign_keys = ON');
    } catch (error) {
      throw new StoreUnavailableError('sqlite', error);
    }
  }

  /**
   * A prepared statement, compiled once per SQL text: preparing costs more than running most
   * of these queries, and the set of texts is small and fixed (listing has a few variants).
   */
  private statement(sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (prepared === undefined) {
      prepared = this.db.prepare(sql);
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  /** Runs `fn`, turning "cannot use the file" failures into StoreUnavailableError. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const closed = error instanceof TypeError && /database connection is not open/.test(error.message);
      if (closed || (typeof code === 'string' && UNAVAILABLE.test(code))) {
        return Promise.reject(new StoreUnavailableError('sqlite', error));
      }
      return Promise.reject(error);
    }
  }

  private publish(event: SessionEvent): void {
    this.feed.emit('event', event);
  }

  migrate(): Promise<void> {
    return this.run(() => {
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)',
      );
      const applied = this.statement(
        'SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations',
      ).get() as { v: number };
      const apply = this.db.transaction((version: number, sql: string) => {
        this.db.exec(sql);
        this.statement('INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, ?)').run(
          version,
          Date.now(),
        );
      });
      for (let version = applied.v + 1; version <= sqliteMigrations.length; version++) {
        apply.immediate(version, sqliteMigrations[version - 1] as string);
      }
    });
  }

  ping(): Promise<void> {
    return this.run(() => {
      this.statement('SELECT 1').get();
    });
  }

  close(): Promise<void> {
    // Subscribers must stop answering from memory: nothing more will reach them.
    for (const listener of this.feedListeners) listener.down();
    this.feedListeners.clear();
    this.feed.removeAllListeners();
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }

  getAdminKeyHash(): Promise<string | null> {
    return this.run(() => {
      const row = this.statement("SELECT value FROM settings WHERE key = 'admin_key_hash'").get() as
        | { value: string }
        | undefined;
      return row?.value ?? null;
    });
  }

  initAdminKeyHash(hash: string): Promise<string> {
    return this.run(() => {
      this.statement(
        "INSERT INTO settings (key, value) VALUES ('admin_key_hash', ?) ON CONFLICT (key) DO NOTHING",
      ).run(hash);
      return (
        this.statement("SELECT value FROM settings WHERE key = 'admin_key_hash'").get() as { value: string }
      ).value;
    });
  }

  getSessionVersion(): Promise<number> {
    return this.run(() => this.currentVersion());
  }

  private currentVersion(): number {
    return (this.statement("SELECT value FROM meta WHERE key = 'token_version'").get() as { value: number })
      .value;
  }

  bumpSessionVersion(): Promise<number> {
    return this.run(() => {
      const row = this.statement(
        "UPDATE meta SET value = value + 1 WHERE key = 'token_version' RETURNING value",
      ).get() as { value: number };
      this.publish({ type: 'version', version: row.value });
      return row.value;
    });
  }

  createSession(session: NewSession): Promise<void> {
    return this.run(() => {
      this.statement(
        `INSERT INTO admin_sessions (jti, iat, exp, v, created_at_ms, ip, user_agent)
           VALUES (@jti, @iat, @exp, @v, @createdAtMs, @ip, @userAgent)`,
      ).run(session);
      this.publish({ type: 'created', jti: session.jti });
    });
  }

  findSession(jti: string): Promise<SessionRecord | null> {
    return this.run(() => {
      const row = this.statement('SELECT * FROM admin_sessions WHERE jti = ?').get(jti) as
        | SessionRow
        | undefined;
      return row === undefined ? null : toSession(row);
    });
  }

  listSessions(): Promise<SessionRecord[]> {
    return this.run(() =>
      (
        this.statement(
          'SELECT * FROM admin_sessions ORDER BY created_at_ms DESC, jti DESC',
        ).all() as SessionRow[]
      ).map(toSession),
    );
  }

  revokeSession(jti: string, nowMs: number): Promise<boolean> {
    return this.run(() => {
      const result = this.statement(
        `UPDATE admin_sessions SET revoked_at_ms = @nowMs
           WHERE jti = @jti AND revoked_at_ms IS NULL AND exp > @nowSeconds
             AND v = (SELECT value FROM meta WHERE key = 'token_version')`,
      ).run({ jti, nowMs, nowSeconds: Math.floor(nowMs / 1000) });
      if (result.changes === 0) return false;
      this.publish({ type: 'revoked', jtis: [jti] });
      return true;
    });
  }

  revokeOtherSessions(exceptJti: string | null, nowMs: number): Promise<string[]> {
    return this.run(() => {
      const rows = this.statement(
        `UPDATE admin_sessions SET revoked_at_ms = @nowMs
           WHERE revoked_at_ms IS NULL AND exp > @nowSeconds AND jti IS NOT @exceptJti
             AND v = (SELECT value FROM meta WHERE key = 'token_version')
           RETURNING jti`,
      ).all({ nowMs, nowSeconds: Math.floor(nowMs / 1000), exceptJti }) as { jti: string }[];
      const jtis = rows.map((row) => row.jti);
      if (jtis.length > 0) this.publish({ type: 'revoked', jtis });
      return jtis;
    });
  }

  touchSessions(seen: Map<string, number>): Promise<void> {
    return this.run(() => {
      const touch = this.statement(
        'UPDATE admin_sessions SET last_seen_at_ms = MAX(COALESCE(last_seen_at_ms, 0), ?) WHERE jti = ?',
      );
      this.db.transaction(() => {
        for (const [jti, atMs] of seen) touch.run(atMs, jti);
      })();
    });
  }

  purgeSessions(beforeSeconds: number): Promise<number> {
    return this.run(
      () => this.statement('DELETE FROM admin_sessions WHERE exp < ?').run(beforeSeconds).changes,
    );
  }

  insertStoredToken(token: StoredToken): Promise<void> {
    return this.run(() => {
      this.statement(
        `INSERT INTO stored_tokens (id, user_id, kid, sealed, preview, expires_at_ms, saved_at_ms, created_at_ms)
           VALUES (@id, @userId, @kid, @sealed, @preview, @expiresAtMs, @savedAtMs, @createdAtMs)`,
      ).run(token);
    });
  }

  findStoredToken(id: string): Promise<StoredToken | null> {
    return this.run(() => {
      const row = this.statement('SELECT * FROM stored_tokens WHERE id = ?').get(id) as TokenRow | undefined;
      return row === undefined ? null : toToken(row);
    });
  }

  listStoredTokens(query: StoredTokenQuery): Promise<StoredTokenPage> {
    return this.run(() => {
      const params = { userId: query.userId, nowMs: query.nowMs, limit: query.limit, offset: query.offset };
      const read = this.db.transaction(() => {
        const { total } = this.statement(countTokensSql(query)).get(params) as {
          total: number;
        };
        const rows = this.statement(tokenPageSql(query)).all(params) as TokenRow[];
        return { total, items: rows.map(toToken) };
      });
      return read();
    });
  }

  findCurrentStoredToken(nowMs: number, userId?: string): Promise<StoredToken | null> {
    return this.run(() => {
      const row = this.statement(currentTokenSql(userId !== undefined)).get({ nowMs, userId }) as
        | TokenRow
        | undefined;
      return row === undefined ? null : toToken(row);
    });
  }

  updateStoredToken(id: string, patch: StoredTokenPatch): Promise<StoredToken | null> {
    return this.run(() => {
      const row = this.statement(
        `UPDATE stored_tokens SET
             kid = COALESCE(@kid, kid), sealed = COALESCE(@sealed, sealed), preview = COALESCE(@preview, preview),
             expires_at_ms = COALESCE(@expiresAtMs, expires_at_ms), saved_at_ms = @savedAtMs
           WHERE id = @id RETURNING *`,
      ).get({
        id,
        kid: patch.kid ?? null,
        sealed: patch.sealed ?? null,
        preview: patch.preview ?? null,
        expiresAtMs: patch.expiresAtMs ?? null,
        savedAtMs: patch.savedAtMs,
      }) as TokenRow | undefined;
      return row === undefined ? null : toToken(row);
    });
  }

  deleteStoredToken(id: string): Promise<boolean> {
    return this.run(() => this.statement('DELETE FROM stored_tokens WHERE id = ?').run(id).changes > 0);
  }

  clearStoredTokens(): Promise<number> {
    return this.run(() => this.statement('DELETE FROM stored_tokens').run().changes);
  }

  purgeStoredTokens(beforeMs: number): Promise<number> {
    return this.run(
      () => this.statement('DELETE FROM stored_tokens WHERE expires_at_ms < ?').run(beforeMs).changes,
    );
  }

  /**
   * Events of this connection are delivered in-process. Commits by other connections (another
   * process on the same file, such as the CLI) are seen through `PRAGMA data_version`, which
   * changes only when someone else commits; `pollFeed` turns that into a resync.
   */
  subscribe(listener: FeedListener): () => void {
    const onEvent = (event: SessionEvent) => listener.event(event);
    this.feed.on('event', onEvent);
    this.feedListeners.add(listener);
    this.dataVersion ??= this.readDataVersion();
    queueMicrotask(() => listener.up());
    return () => {
      this.feed.off('event', onEvent);
      this.feedListeners.delete(listener);
    };
  }

  pollFeed(): void {
    if (this.feedListeners.size === 0 || !this.db.open) return;
    const now = performance.now();
    if (now - this.lastPollAt < this.crossProcessPollMs) return;
    this.lastPollAt = now;
    const version = this.readDataVersion();
    if (version === this.dataVersion) return;
    this.dataVersion = version;
    for (const listener of this.feedListeners) {
      listener.down();
      listener.up();
    }
  }

  private readDataVersion(): number {
    this.dataVersionQuery ??= this.db.prepare('PRAGMA data_version').pluck();
    return this.dataVersionQuery.get() as number;
  }
}
