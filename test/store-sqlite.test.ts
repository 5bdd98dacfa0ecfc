import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sqliteMigrations } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { SqliteStoredTokenTables } from '../src/store/sqlite/stored-tokens.js';
import type { AuditEntry } from '../src/store/types.js';
import { auditEntry, newToken, readsAmongOthers } from './store-contract/support.js';
import { describeStoreContract } from './store-contract.js';
import { tempDatabase, withTempDatabase } from './support/temp-database.js';
import { T0 } from './support/time.js';

describeStoreContract(
  'SQLite (temp file)',
  async () => {
    const { path, remove } = tempDatabase();
    const open = async () => {
      // The feed reads data_version every millisecond, so the suite sees another instance's
      // commit quickly (the default interval is tested with the FeedSessionCheck tests).
      const store = new SqliteStore(path, { crossProcessPollMs: 1 });
      await store.migrate();
      return store;
    };
    return {
      store: await open(),
      reopen: open,
      cleanup: async () => remove(),
    };
  },
  { crossInstanceFeed: 'resync' },
);

describe('SQLite migrations', () => {
  it('the token_expiry_counts migration counts the tokens stored before it, negative expiries included', async () => {
    await withTempDatabase(async (path) => {
      const store = new SqliteStore(path);
      await store.migrate();
      const hour = 3_600_000;
      const nowMs = Math.floor(T0 / hour) * hour + hour / 2;
      const expiries = [
        -hour - 1,
        -1,
        nowMs - 2 * hour,
        nowMs - 1,
        nowMs,
        nowMs + 1,
        nowMs + hour,
        nowMs + 3 * hour,
      ];
      for (const [i, expiresAtMs] of expiries.entries())
        await store.insertStoredToken(newToken(`t${i}`, { expiresAtMs }));
      await store.close();
      // Back to the migration before it, tokens kept, then forward again: what it finds on an
      // existing file.
      const db = new Database(path);
      const version = migrationCreating('token_expiry_counts');
      db.exec(`DROP TRIGGER stored_tokens_expiry_insert; DROP TRIGGER stored_tokens_expiry_delete;
        DROP TRIGGER stored_tokens_expiry_update; DROP TABLE token_expiry_counts;
        DELETE FROM schema_migrations WHERE version >= ${version};`);
      db.close();
      const again = new SqliteStore(path);
      await again.migrate();
      const totals = async (at: number) =>
        await Promise.all(
          [true, false].map(
            async (valid) => (await again.listStoredTokens({ offset: 0, limit: 1, valid, nowMs: at })).total,
          ),
        );
      expect(await totals(nowMs)).toEqual([3, 5]);
      expect(await totals(-1)).toEqual([6, 2]);
      expect(await totals(-hour - 2)).toEqual([8, 0]);
      expect((await again.listStoredTokens({ offset: 0, limit: 1, nowMs })).total).toBe(8);
      await again.close();
    });
  });

  it('the audit_log migration keeps every entry, listed in the same order, by action too', async () => {
    const version = migrationCreating('audit_log_by_time');
    await withTempDatabase(async (path) => {
      const db = fileBefore(path, version);
      const entries: AuditEntry[] = [
        // Two at the same millisecond: the id orders them.
        auditEntry('audit_01', { atMs: T0 }),
        auditEntry('audit_03', { atMs: T0 + 5, action: 'storage.read_token', target: 'tok_1', ip: null }),
        auditEntry('audit_02', { atMs: T0 + 5 }),
        auditEntry('audit_04', { atMs: T0 + 9, action: 'session.revoke', reason: 'left', userAgent: null }),
      ];
      const insert = db.prepare(
        `INSERT INTO audit_log (id, at_ms, action, actor, ip, user_agent, target, reason)
           VALUES (@id, @atMs, @action, @actor, @ip, @userAgent, @target, @reason)`,
      );
      for (const entry of entries) insert.run(entry);
      db.close();

      const store = new SqliteStore(path);
      try {
        await store.migrate();
        // Two B-trees an entry is written to: the table (keyed by time and id) and the action index.
        const schema = new Database(path, { readonly: true });
        try {
          const btrees = schema
            .prepare(
              "SELECT name FROM sqlite_schema WHERE tbl_name = 'audit_log' AND rootpage > 0 ORDER BY name",
            )
            .pluck()
            .all();
          expect(btrees).toEqual(['audit_log', 'audit_log_action_at']);
        } finally {
          schema.close();
        }
        const newestFirst = [entries[3], entries[1], entries[2], entries[0]];
        expect(await store.listAudit({ offset: 0, limit: 10 })).toEqual({ items: newestFirst, total: 4 });
        expect(await store.listAudit({ offset: 1, limit: 2 })).toEqual({
          items: newestFirst.slice(1, 3),
          total: 4,
        });
        expect(await store.listAudit({ offset: 0, limit: 10, action: 'login' })).toEqual({
          items: [entries[2], entries[0]],
          total: 2,
        });
        // Written after it, listed with them; purged by time as before.
        const later = auditEntry('audit_05', { atMs: T0 + 20, action: 'logout' });
        await store.appendAudit([later]);
        expect((await store.listAudit({ offset: 0, limit: 1 })).items).toEqual([later]);
        expect(await store.purgeAudit(T0 + 5)).toBe(1);
        expect((await store.listAudit({ offset: 0, limit: 10 })).total).toBe(4);
      } finally {
        await store.close();
      }
    });
  });

  it('the ascending-index migration keeps every listing in the same order, by user and action too', async () => {
    const version = sqliteMigrations.findIndex((sql) => sql.includes('DROP INDEX stored_tokens_saved')) + 1;
    expect(version).toBeGreaterThan(0);
    await withTempDatabase(async (path) => {
      const db = fileBefore(path, version);
      // Ties on saved_at_ms (the id orders them), two users, one token expired.
      const tokens = [
        newToken('store_01', { savedAtMs: T0, userId: 'usr_a' }),
        newToken('store_03', { savedAtMs: T0 + 5, userId: 'usr_b' }),
        newToken('store_02', { savedAtMs: T0 + 5, userId: 'usr_a' }),
        newToken('store_04', { savedAtMs: T0 + 9, userId: 'usr_a', expiresAtMs: T0 - 1 }),
        newToken('store_05', { savedAtMs: T0 + 7, userId: 'usr_b' }),
      ];
      const insertToken = db.prepare(
        `INSERT INTO stored_tokens (id, user_id, kid, sealed, preview, expires_at_ms, saved_at_ms, created_at_ms)
           VALUES (@id, @userId, @kid, @sealed, @preview, @expiresAtMs, @savedAtMs, @createdAtMs)`,
      );
      for (const token of tokens) insertToken.run(token);
      const entries = [
        auditEntry('audit_01', { atMs: T0, action: 'storage.read_token' }),
        auditEntry('audit_03', { atMs: T0 + 5, action: 'storage.read_token' }),
        auditEntry('audit_02', { atMs: T0 + 5, action: 'storage.read_token' }),
        auditEntry('audit_04', { atMs: T0 + 9 }),
      ];
      const insertEntry = db.prepare(
        `INSERT INTO audit_log (id, at_ms, action, actor, ip, user_agent, target, reason)
           VALUES (@id, @atMs, @action, @actor, @ip, @userAgent, @target, @reason)`,
      );
      for (const entry of entries) insertEntry.run(entry);
      db.close();

      const store = new SqliteStore(path);
      try {
        await store.migrate();
        const ids = async (query: { userId?: string; valid?: boolean; offset?: number; limit?: number }) =>
          (await store.listStoredTokens({ offset: 0, limit: 10, nowMs: T0, ...query })).items.map(
            (token) => token.id,
          );
        expect(await ids({})).toEqual(['store_04', 'store_05', 'store_03', 'store_02', 'store_01']);
        expect(await ids({ offset: 1, limit: 2 })).toEqual(['store_05', 'store_03']);
        expect(await ids({ userId: 'usr_a' })).toEqual(['store_04', 'store_02', 'store_01']);
        expect(await ids({ userId: 'usr_a', valid: true })).toEqual(['store_02', 'store_01']);
        expect((await store.findCurrentStoredToken(T0))?.id).toBe('store_05');
        expect((await store.findCurrentStoredToken(T0, 'usr_a'))?.id).toBe('store_02');
        const audit = await store.listAudit({ offset: 0, limit: 10, action: 'storage.read_token' });
        expect(audit.items.map((entry) => entry.id)).toEqual(['audit_03', 'audit_02', 'audit_01']);
        // Written after it, first in every order.
        await store.insertStoredToken(newToken('store_06', { savedAtMs: T0 + 20, userId: 'usr_a' }));
        expect((await ids({ userId: 'usr_a' }))[0]).toBe('store_06');
        expect((await store.findCurrentStoredToken(T0))?.id).toBe('store_06');
      } finally {
        await store.close();
      }
    });
  });

  it("the partial action-index migration keeps every action's listing and total; token reads leave the index", async () => {
    const version =
      sqliteMigrations.findIndex((sql) => sql.includes("WHERE action <> 'storage.read_token'")) + 1;
    expect(version).toBeGreaterThan(0);
    await withTempDatabase(async (path) => {
      const db = fileBefore(path, version);
      const insert = db.prepare(
        `INSERT INTO audit_log (id, at_ms, action, actor, ip, user_agent, target, reason)
           VALUES (@id, @atMs, @action, @actor, @ip, @userAgent, @target, @reason)`,
      );
      const entries = readsAmongOthers();
      for (const entry of entries) insert.run(entry);
      db.close();

      const store = new SqliteStore(path);
      try {
        await store.migrate();
        const newestFirst = (action: string) => entries.filter((entry) => entry.action === action).reverse();
        for (const action of ['storage.read_token', 'login', 'session.revoke']) {
          expect(await store.listAudit({ offset: 0, limit: 10, action })).toEqual({
            items: newestFirst(action),
            total: newestFirst(action).length,
          });
        }
        expect((await store.listAudit({ offset: 1, limit: 1, action: 'storage.read_token' })).items).toEqual([
          entries[2],
        ]);
        // Written after the migration: listed by its action; the index is partial, without token reads.
        await store.appendAudit([auditEntry('audit_09', { atMs: T0 + 9, action: 'storage.read_token' })]);
        await store.appendAudit([auditEntry('audit_10', { atMs: T0 + 10, action: 'login' })]);
        expect(
          (await store.listAudit({ offset: 0, limit: 1, action: 'storage.read_token' })).items[0]?.id,
        ).toBe('audit_09');
        expect((await store.listAudit({ offset: 0, limit: 10, action: 'login' })).total).toBe(2);
        const schema = new Database(path, { readonly: true });
        try {
          const indexed = schema
            .prepare(
              "SELECT action FROM audit_log INDEXED BY audit_log_action_at WHERE action <> 'storage.read_token' ORDER BY at_ms",
            )
            .pluck()
            .all();
          expect(indexed).toEqual(['login', 'session.revoke', 'login']);
          const sql = schema
            .prepare("SELECT sql FROM sqlite_schema WHERE name = 'audit_log_action_at'")
            .pluck()
            .get() as string;
          expect(sql).toContain("WHERE action <> 'storage.read_token'");
        } finally {
          schema.close();
        }
      } finally {
        await store.close();
      }
    });
  });
});

/** A file at the migration before `version`, as an earlier Tessera left it (open: close it). */
function fileBefore(path: string, version: number): Database.Database {
  const db = new Database(path);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)');
  for (const [i, sql] of sqliteMigrations.slice(0, version - 1).entries()) {
    db.exec(sql);
    db.prepare('INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?, 0)').run(i + 1);
  }
  return db;
}

/** The 1-based version of the migration that creates `table`. */
function migrationCreating(table: string): number {
  const index = sqliteMigrations.findIndex((sql) => sql.includes(`CREATE TABLE ${table} `));
  if (index < 0) throw new Error(`no migration creates ${table}`);
  return index + 1;
}

describe('SQLite batched writes (stored tokens)', () => {
  const withStore = (run: (store: SqliteStore, path: string) => Promise<void>) =>
    withTempDatabase(async (path) => {
      const store = new SqliteStore(path);
      try {
        await store.migrate();
        await run(store, path);
      } finally {
        await store.close();
      }
    });

  it('writes asked for in one turn are each committed (seen by another connection) when they resolve', async () => {
    await withStore(async (store, path) => {
      const other = new Database(path, { readonly: true });
      try {
        const count = () =>
          (other.prepare('SELECT count(*) AS n FROM stored_tokens').get() as { n: number }).n;
        const writes = Array.from({ length: 20 }, (_, i) => store.insertStoredToken(newToken(`tok_${i}`)));
        // Nothing is written before the turn ends.
        expect(count()).toBe(0);
        await Promise.all(writes);
        expect(count()).toBe(20);
      } finally {
        other.close();
      }
    });
  });

  it('a write that fails in a batch fails alone: the others of its turn commit', async () => {
    await withStore(async (store) => {
      await store.insertStoredToken(newToken('tok_a'));
      const outcomes = await Promise.allSettled([
        store.insertStoredToken(newToken('tok_b')),
        store.insertStoredToken(newToken('tok_a', { userId: 'usr_other' })),
        store.insertStoredToken(newToken('tok_c')),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((await store.findStoredToken('tok_a'))?.userId).toBe(newToken('tok_a').userId);
      expect((await store.findStoredToken('tok_b'))?.id).toBe('tok_b');
      expect((await store.findStoredToken('tok_c'))?.id).toBe('tok_c');
    });
  });

  it('a recorded read whose audit entry cannot be written fails, and hands out no token', async () => {
    await withStore(async (store, path) => {
      await store.insertStoredToken(newToken('tok_a', { userId: 'usr_a' }));
      const other = new Database(path);
      other.exec(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
      );
      other.close();
      const entry = auditEntry('audit_1', { action: 'storage.read_token' });
      await expect(store.readStoredToken('tok_a', entry)).rejects.toThrow(/audit refused/);
      await expect(store.readCurrentStoredToken(T0, 'usr_a', entry)).rejects.toThrow(/audit refused/);
      // The plain read is untouched, and nothing was recorded.
      expect((await store.findStoredToken('tok_a'))?.id).toBe('tok_a');
      expect((await store.listAudit({ offset: 0, limit: 10 })).total).toBe(0);
    });
  });

  it('writes asked for just before close are committed before the file is closed', async () => {
    await withTempDatabase(async (path) => {
      const store = new SqliteStore(path);
      await store.migrate();
      const write = store.insertStoredToken(newToken('tok_late'));
      await store.close();
      await write;
      const again = new SqliteStore(path);
      expect((await again.findStoredToken('tok_late'))?.id).toBe('tok_late');
      await again.close();
    });
  });
});

describe('SQLite reads of one turn (stored tokens)', () => {
  const withStores = (run: (store: SqliteStore, other: Database.Database) => Promise<void>) =>
    withTempDatabase(async (path) => {
      const store = new SqliteStore(path);
      const other = new Database(path);
      try {
        await store.migrate();
        await run(store, other);
      } finally {
        other.close();
        await store.close();
      }
    });
  // Another connection's write, through the store's own insert on that connection.
  const insertElsewhere = (other: Database.Database, id: string) =>
    new SqliteStoredTokenTables((sql) => other.prepare(sql)).insertStoredToken(newToken(id));
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it("share one snapshot, which ends with the turn: another connection's commit is seen from the next turn", async () => {
    await withStores(async (store, other) => {
      expect(await store.findStoredToken('tok_elsewhere')).toBeNull();
      // Still the first read's turn: its snapshot holds.
      const sameTurn = store.findStoredToken('tok_elsewhere');
      insertElsewhere(other, 'tok_elsewhere');
      const afterCommit = store.findStoredToken('tok_elsewhere');
      expect(await sameTurn).toBeNull();
      expect(await afterCommit).toBeNull();
      await nextTurn();
      expect((await store.findStoredToken('tok_elsewhere'))?.id).toBe('tok_elsewhere');
      // The turn's transaction is over: another connection can take the write lock and
      // checkpoint the whole log.
      await nextTurn();
      const [checkpoint] = other.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      expect(checkpoint?.busy).toBe(0);
    });
  });

  it('reads of one token in one turn run its query once; another id, the next turn and a read after a write read afresh', async () => {
    await withStores(async (store) => {
      await store.insertStoredToken(newToken('tok_a'));
      await store.insertStoredToken(newToken('tok_b'));
      await nextTurn();
      const [first, again, other, third] = await Promise.all([
        store.findStoredToken('tok_a'),
        store.findStoredToken('tok_a'),
        store.findStoredToken('tok_b'),
        store.findStoredToken('tok_b'),
      ]);
      expect(first?.id).toBe('tok_a');
      // One record for both: the second read was answered from the first.
      expect(again).toBe(first);
      expect(other?.id).toBe('tok_b');
      expect(third).toBe(other);
      await nextTurn();
      const next = await store.findStoredToken('tok_b');
      expect(next).toEqual(other);
      expect(next).not.toBe(other);
      // A write ends the turn's snapshot: a read after it (here a listing, which begins the
      // next snapshot) does not bring back the row read before it.
      await nextTurn();
      const seen = store.findStoredToken('tok_a');
      const deleted = store.deleteStoredToken('tok_a');
      const listed = store.listStoredTokens({ nowMs: T0, limit: 10, offset: 0 });
      const after = store.findStoredToken('tok_a');
      expect((await seen)?.id).toBe('tok_a');
      expect(await deleted).toBe(true);
      expect((await listed).total).toBe(1);
      expect(await after).toBeNull();
    });
  });

  it("a write retried after another connection's lock ends a read turn begun while it waited", async () => {
    await withStores(async (store, other) => {
      await store.insertStoredToken(newToken('tok_a'));
      await nextTurn();
      const count = () => other.prepare('SELECT COUNT(*) FROM stored_tokens').pluck().get();
      other.exec('BEGIN IMMEDIATE');
      const deleted = store.deleteStoredToken('tok_a');
      // A few retries fail while the lock is held.
      await new Promise((resolve) => setTimeout(resolve, 40));
      await new Promise<void>((resolve) => {
        // A read turn begun in a setImmediate callback lasts into the next loop iteration,
        // whose timers (the write's retry) run before it ends.
        setImmediate(() => {
          void store.findStoredToken('tok_a');
          other.exec('ROLLBACK');
          const until = performance.now() + 15;
          while (performance.now() < until) {}
          resolve();
        });
      });
      expect(await deleted).toBe(true);
      // Committed when it resolved (not left inside the read turn), and seen by this store.
      expect(count()).toBe(0);
      expect(await store.findStoredToken('tok_a')).toBeNull();
    });
  });

  it("a write of this connection ends the turn's reads: it is committed when it returns, and reads after it see it", async () => {
    await withStores(async (store, other) => {
      await store.insertStoredToken(newToken('tok_a'));
      await nextTurn();
      const read = () => other.prepare('SELECT id FROM stored_tokens').pluck().all();
      const seen = store.findStoredToken('tok_a');
      const deleted = store.deleteStoredToken('tok_a');
      // Committed already: another connection no longer sees it, in the same turn.
      expect(read()).toEqual([]);
      const after = store.findStoredToken('tok_a');
      const listed = store.listStoredTokens({ nowMs: T0, limit: 10, offset: 0 });
      expect((await seen)?.id).toBe('tok_a');
      expect(await deleted).toBe(true);
      expect(await after).toBeNull();
      expect((await listed).total).toBe(0);
      // A batched write asked for after a read of its turn commits as well.
      const written = store.insertStoredToken(newToken('tok_b'));
      expect(await store.findStoredToken('tok_b')).toBeNull();
      await written;
      expect(read()).toEqual(['tok_b']);
    });
  });
});
