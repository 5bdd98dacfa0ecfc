import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { StoreMismatchError, StoreUnavailableError } from '../../errors.js';
import { ChangeFeed, type PublishedEvent } from '../feed/change-feed.js';
import { pageKey } from '../turn-batch.js';
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
import { SqliteAccessTables } from './access.js';
import { checkpointLater, LOG_SIZE_LIMIT_BYTES } from './checkpointer.js';
import { SqliteFeedTransport } from './feed-transport.js';
import { sqliteMigrations } from './migrations.js';
import { ReadTurn } from './read-turn.js';
import { recordRead } from './recorded-read.js';
import { SqliteSessionTables } from './sessions.js';
import { SqliteStoredTokenTables } from './stored-tokens.js';

/** SQLite error codes that mean "the file is not usable now", not "the query is wrong". */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY|CORRUPT|NOTADB)/;
/** Another connection holds the lock this statement needs (waiting may help). */
const BUSY = /^SQLITE_BUSY/;

/**
 * The longest a statement waits for another connection's write lock (the CLI, a second server
 * on the same file) before it is refused as unavailable (503): a request gets its answer within
 * 2 s even while the file stays locked, and 1.5 s leaves room for the rest of the request.
 * Readers never wait: in WAL mode they do not need the write lock.
 */
const LOCK_WAIT_MS = 1500;
/**
 * SQLite waits for a lock inside the call, on the only thread, so the whole server (health
 * checks too) would stand still while one request waits. It waits in place only this long
 * (busy_timeout), which absorbs the usual short write of another process; past that the
 * statement is retried every LOCK_RETRY_MS with the event loop free, until LOCK_WAIT_MS.
 */
const LOCK_SLICE_MS = 5;
const LOCK_RETRY_MS = 10;

/**
 * The embedded backend: one better-sqlite3 connection in WAL mode. Every statement runs on
 * the Node thread, so each method is atomic; multi-statement changes use a transaction.
 */
export interface SqliteStoreOptions {
  /**
   * Time between two reads of `PRAGMA data_version` by the change feed, in ms: the longest a
   * commit by another process (the CLI, a second server on the same file) goes unseen by
   * this one's session checks. Default 10.
   */
  crossProcessPollMs?: number;
  /**
   * How long after opening the checkpointer's worker starts, in ms (until then, and for a
   * database in memory, commits checkpoint as SQLite does by default). A store used for less
   * (a CLI command such as `tessera migrate`) never pays for a worker, and a server starts it
   * once it is up, not while it starts. Default 1000.
   */
  checkpointerAfterMs?: number;
  /**
   * Told once if the checkpointer fails, with why (the store goes on, its commits checkpointing
   * on the Node thread as SQLite does by default): the server logs it.
   */
  onCheckpointerFailure?: ((reason: string) => void) | undefined;
}

/** A write waiting for its turn's commit, and its caller's promise. */
interface PendingWrite {
  write(): void;
  resolve(): void;
  reject(error: unknown): void;
}

export class SqliteStore implements Store {
  readonly backend = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly feed: ChangeFeed;
  /** Checkpoints the log off the Node thread, once started; never for a database in memory. */
  private readonly checkpointer: { stop(): Promise<void> } | null = null;
  private readonly statements = new Map<string, Database.Statement>();
  /** Writes waiting for this turn's commit (`batched`). */
  private pending: PendingWrite[] = [];
  /** `commitPending`'s transaction, made once (see `writeBatch`). */
  private readonly commitBatch: Database.Transaction<
    (batch: readonly PendingWrite[], failures: Map<number, unknown>) => void
  >;
  private readonly access = new SqliteAccessTables((sql) => this.statement(sql));
  private readonly storedTokens = new SqliteStoredTokenTables((sql) => this.statement(sql));
  private readonly sessions = new SqliteSessionTables((sql) => this.statement(sql));
  /** This event-loop turn's read transaction, and what its reads found (read-turn.ts). */
  private readonly turn: ReadTurn;

  constructor(
    private readonly path: string,
    options: SqliteStoreOptions = {},
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: every commit is in the log before the call returns, so it survives
      // the process being killed; the log is synced at checkpoints, so a power loss may take
      // the last commits (FULL would sync each one: about 3 ms here, on the Node thread).
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma(`journal_size_limit = ${LOG_SIZE_LIMIT_BYTES}`);
      this.db.pragma(`busy_timeout = ${LOCK_SLICE_MS}`);
      this.db.pragma('foreign_keys = ON');
    } catch (error) {
      throw new StoreUnavailableError('sqlite', error);
    }
    if (path !== ':memory:' && path !== '') {
      const host = {
        setAutoCheckpoint: (pages: number) => {
          if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${pages}`);
        },
        failed: options.onCheckpointerFailure,
      };
      this.checkpointer = checkpointLater(path, host, options.checkpointerAfterMs ?? 1000);
    }
    // better-sqlite3 builds a transaction's four wrappers and their properties each time one is
    // made: the batch's is made once.
    this.commitBatch = this.db.transaction(this.writeBatch);
    this.turn = new ReadTurn(this.db, (sql) => this.statement(sql));
    const dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.feed = new ChangeFeed(
      new SqliteFeedTransport(() => dataVersion.get() as number, options.crossProcessPollMs ?? 10),
    );
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

  /**
   * Runs `fn` (one statement or one transaction, so it either happened or not), turning
   * "cannot use the file" failures into StoreUnavailableError. It runs at once; only while
   * another connection holds the lock is it tried again, off the thread, up to LOCK_WAIT_MS.
   */
  private run<T>(fn: () => T): Promise<T> {
    // Before every attempt, retries too: a read turn may have begun while this one waited.
    return this.attempt(() => {
      this.turn.end();
      return fn();
    });
  }

  /**
   * Runs the reads in `fn` in this event-loop turn's read transaction (see read-turn.ts).
   * Only for statements that read: anything that writes goes through `run`.
   */
  private read<T>(fn: () => T): Promise<T> {
    return this.attempt(() => {
      this.turn.join();
      return fn();
    });
  }

  private attempt<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return isBusy(error)
        ? this.runWhenUnlocked(fn, performance.now() + LOCK_WAIT_MS - LOCK_SLICE_MS)
        : Promise.reject(storeError(error));
    }
  }

  private async runWhenUnlocked<T>(fn: () => T, deadline: number): Promise<T> {
    for (;;) {
      await sleep(LOCK_RETRY_MS);
      try {
        return fn();
      } catch (error) {
        if (!isBusy(error) || performance.now() >= deadline) throw storeError(error);
      }
    }
  }

  /**
   * A write committed together with the other batched writes of this event-loop turn, before
   * any of them is answered: one transaction (so one commit, one WAL append of the pages they
   * share, one lock) instead of one each. `write` must be one statement: one that fails (a
   * duplicate id) is undone alone and fails alone. The batch runs and commits in one
   * synchronous step, so no read ever sees a batched write before it is committed.
   */
  private batched(write: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.commitPending());
      this.pending.push({ write, resolve, reject });
    });
  }

  /**
   * One batch's writes (run in `commitBatch`'s transaction). Fills `failures`, cleared first
   * since a retry after a busy BEGIN runs it again, with the writes that failed alone.
   */
  private readonly writeBatch = (batch: readonly PendingWrite[], failures: Map<number, unknown>): void => {
    failures.clear();
    batch.forEach(({ write }, i) => {
      try {
        write();
      } catch (error) {
        // A failed statement (a duplicate id) is undone by SQLite alone, the transaction going
        // on; an error that ended the transaction (disk full, I/O) fails the whole batch.
        if (!this.db.inTransaction) throw error;
        failures.set(i, error);
      }
    });
  };

  private commitPending(): void {
    const batch = this.pending;
    // Already committed by close().
    if (batch.length === 0) return;
    this.pending = [];
    const failures = new Map<number, unknown>();
    // IMMEDIATE: the write lock is taken at BEGIN, so another connection's lock is a busy
    // BEGIN (waited for as any statement's), never one write's failure.
    this.run(() => this.commitBatch.immediate(batch, failures)).then(
      () => {
        batch.forEach(({ resolve, reject }, i) => {
          if (failures.has(i)) reject(storeError(failures.get(i)));
          else resolve();
        });
      },
      (error: unknown) => {
        for (const { reject } of batch) reject(error);
      },
    );
  }

  /**
   * Runs a mutation that may change sessions; the events it reports reach this instance's
   * listeners before the call returns (other processes see the commit through the feed's poll).
   */
  private publishing<T>(mutation: () => { result: T; events: FeedEvent[] }): Promise<T> {
    return this.feed
      .publishing(
        () => this.run(mutation),
        ({ events }, id): PublishedEvent[] => events.map((event) => ({ id, event })),
      )
      .then(({ result }) => result);
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
      if (applied.v > sqliteMigrations.length) {
        throw new StoreMismatchError(
          `the sqlite file ${JSON.stringify(this.path)} is at migration ${applied.v}, and this Tessera knows ` +
            `${sqliteMigrations.length}: run the Tessera version that wrote it, or use another file`,
        );
      }
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

  async close(): Promise<void> {
    // Subscribers hear down() and stop answering from memory: nothing more will reach them.
    await this.feed.close();
    // Batched writes already asked for are committed first.
    if (this.pending.length > 0) this.commitPending();
    // Its connection closes first: the store's, the last one, then checkpoints what is left.
    await this.checkpointer?.stop();
    if (this.db.open) {
      this.turn.end();
      this.db.close();
    }
  }

  getAdminKeyHash(): Promise<string | null> {
    return this.run(() => this.sessions.getAdminKeyHash());
  }

  initAdminKeyHash(hash: string): Promise<string> {
    return this.run(() => this.sessions.initAdminKeyHash(hash));
  }

  getSessionVersion(): Promise<number> {
    return this.run(() => this.sessions.getSessionVersion());
  }

  bumpSessionVersion(): Promise<number> {
    return this.publishing(() => {
      const version = this.sessions.bumpSessionVersion();
      return { result: version, events: [{ type: 'version', version }] };
    });
  }

  createSession(session: NewSession): Promise<void> {
    return this.publishing(() => {
      this.sessions.createSession(session);
      const { jti, iat, exp, v } = session;
      return { result: undefined, events: [{ type: 'created', jti, iat, exp, v }] };
    });
  }

  findSession(jti: string): Promise<SessionRecord | null> {
    return this.run(() => this.sessions.findSession(jti));
  }

  listSessions(): Promise<SessionRecord[]> {
    return this.run(() => this.sessions.listSessions());
  }

  listRevokedSessions(nowSeconds: number): Promise<string[]> {
    return this.run(() => this.sessions.listRevokedSessions(nowSeconds));
  }

  revokeSession(jti: string, nowMs: number): Promise<boolean> {
    return this.publishing(() => {
      const revoked = this.sessions.revokeSession(jti, nowMs);
      return { result: revoked, events: revoked ? [{ type: 'revoked', jtis: [jti] }] : [] };
    });
  }

  revokeOtherSessions(exceptJti: string | null, nowMs: number): Promise<string[]> {
    return this.publishing(() => {
      const jtis = this.sessions.revokeOtherSessions(exceptJti, nowMs);
      return { result: jtis, events: jtis.length > 0 ? [{ type: 'revoked', jtis }] : [] };
    });
  }

  touchSessions(seen: Map<string, number>): Promise<void> {
    return this.run(() => {
      this.db.transaction(() => {
        for (const [jti, atMs] of seen) this.sessions.touchSession(jti, atMs);
      })();
    });
  }

  purgeSessions(beforeSeconds: number): Promise<number> {
    return this.run(() => this.sessions.purgeSessions(beforeSeconds));
  }

  insertStoredToken(token: StoredToken): Promise<void> {
    return this.batched(() => this.storedTokens.insertStoredToken(token));
  }

  findStoredToken(id: string): Promise<StoredToken | null> {
    const known = this.turn.byId(id);
    if (known !== undefined) return Promise.resolve(known);
    return this.read(() => this.turn.keepById(id, this.storedTokens.findStoredToken(id)));
  }

  listStoredTokens(query: StoredTokenQuery): Promise<StoredTokenPage> {
    const key = pageKey(query);
    const known = this.turn.page(key);
    if (known !== undefined) return Promise.resolve(known);
    return this.read(() => this.turn.keepPage(key, this.storedTokens.listStoredTokens(query)));
  }

  findCurrentStoredToken(nowMs: number, userId?: string): Promise<StoredToken | null> {
    const known = this.turn.current(nowMs, userId);
    if (known !== undefined) return Promise.resolve(known);
    return this.read(() =>
      this.turn.keepCurrent(nowMs, userId, this.storedTokens.findCurrentStoredToken(nowMs, userId)),
    );
  }

  readStoredToken(id: string, entry: AuditEntry): Promise<StoredToken | null> {
    return recordRead(this.findStoredToken(id), entry, this.writeReadEntry);
  }

  readCurrentStoredToken(
    nowMs: number,
    userId: string | undefined,
    entry: AuditEntry,
  ): Promise<StoredToken | null> {
    return recordRead(this.findCurrentStoredToken(nowMs, userId), entry, this.writeReadEntry);
  }

  /**
   * A read's entry, committed with this turn's other writes (`batched`): in process there is no
   * round trip to share, and the turn's entries still go in one commit.
   */
  private readonly writeReadEntry = (entry: AuditEntry) => this.batched(() => this.access.appendAudit(entry));

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

  listStoredTokensSealedWith(kid: string, limit: number): Promise<StoredToken[]> {
    return this.run(() => this.storedTokens.listStoredTokensSealedWith(kid, limit));
  }

  countStoredTokensSealedWith(kid: string): Promise<number> {
    return this.run(() => this.storedTokens.countStoredTokensSealedWith(kid));
  }

  resealStoredToken(id: string, fromKid: string, to: { kid: string; sealed: Buffer }): Promise<boolean> {
    return this.run(() => this.storedTokens.resealStoredToken(id, fromKid, to));
  }

  rotateAdminKeyHash(hash: string): Promise<void> {
    return this.publishing(() => {
      this.sessions.rotateAdminKeyHash(hash);
      return { result: undefined, events: [{ type: 'admin_key_rotated' }] };
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

  revokeApiKey(id: string, nowMs: number): Promise<boolean> {
    return this.publishing(() => {
      const revoked = this.access.revokeApiKey(id, nowMs);
      return { result: revoked, events: revoked ? [{ type: 'api_key_revoked', id }] : [] };
    });
  }

  touchApiKeys(seen: Map<string, number>): Promise<void> {
    return this.run(() => {
      this.db.transaction(() => {
        for (const [id, atMs] of seen) this.access.touchApiKey(id, atMs);
      })();
    });
  }

  appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    // Not `batched`: the audit log already hands over one turn's entries at once.
    return this.run(() => {
      this.db.transaction(() => {
        for (const entry of entries) this.access.appendAudit(entry);
      })();
    });
  }

  listAudit(query: AuditQuery): Promise<{ items: AuditEntry[]; total: number }> {
    return this.run(() => this.db.transaction(() => this.access.listAudit(query))());
  }

  purgeAudit(beforeMs: number): Promise<number> {
    return this.run(() => this.access.purgeAudit(beforeMs));
  }

  addFailure(subject: string, nowMs: number, windowMs: number): Promise<ThrottleRecord> {
    return this.run(() => this.access.addFailure(subject, nowMs, windowMs));
  }

  lockOut(subject: string, untilMs: number, nowMs: number): Promise<void> {
    return this.publishing(() => {
      this.access.lockOut(subject, untilMs, nowMs);
      return { result: undefined, events: [{ type: 'throttled', subject, untilMs }] };
    });
  }

  findThrottle(subject: string): Promise<ThrottleRecord | null> {
    return this.run(() => this.access.findThrottle(subject));
  }

  purgeThrottles(beforeMs: number): Promise<number> {
    return this.run(() => this.access.purgeThrottles(beforeMs));
  }

  subscribe(listener: FeedListener): () => void {
    return this.feed.subscribe(listener);
  }
}

const isBusy = (error: unknown): boolean => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && BUSY.test(code);
};

/** StoreUnavailableError for "cannot use the file" failures (a closed store too); others as they are. */
function storeError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  const closed = error instanceof TypeError && /database connection is not open/.test(error.message);
  return closed || (typeof code === 'string' && UNAVAILABLE.test(code))
    ? new StoreUnavailableError('sqlite', error)
    : error;
}
