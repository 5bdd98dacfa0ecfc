import type Database from 'better-sqlite3';
import type { StoredToken, StoredTokenPage } from '../types.js';

/**
 * The reads of one event-loop turn share one read transaction. Each statement outside a
 * transaction takes and drops WAL's read lock and checks the file's size itself (three system
 * calls, about 8 us here, more than the query), so a busy server's reads arriving in the same
 * turn pay it once. The transaction ends when the turn does (`setImmediate`) or before any
 * write of the connection (the store calls `end`), so every read sees every write this process
 * answered for before it, and another process's commit from an earlier turn. A transaction
 * that lasts one turn holds back no checkpoint.
 *
 * While it is open, the same query in the same snapshot gives the same row, so the last
 * stored token read by id, the last current token and the last listing page are kept and a
 * turn's requests for one of them run its query once. Each is one slot, not a map of the
 * turn's reads: a map cost more in garbage collection (4.8 us a read) than it saved when the
 * ids differ. All are forgotten whenever a read transaction begins or ends.
 */
export class ReadTurn {
  /** This turn's read transaction is open (`join`). */
  private open = false;
  private lastById: { id: string; found: StoredToken | null } | null = null;
  private lastCurrent: { nowMs: number; userId: string | undefined; found: StoredToken | null } | null = null;
  /** By `pageKey`. */
  private lastPage: { key: string; page: StoredTokenPage } | null = null;

  constructor(
    private readonly db: Database.Database,
    private readonly statement: (sql: string) => Database.Statement,
  ) {}

  /** Begins this turn's read transaction unless one (or a write's) is open. */
  join(): void {
    if (this.db.inTransaction) return;
    this.forget();
    this.statement('BEGIN').run();
    // (Already set when a failed statement ended this turn's transaction: it is begun again.)
    if (this.open) return;
    this.open = true;
    setImmediate(this.end);
  }

  /** Ends this turn's read transaction, if one is open: at the turn's end, and before a write. */
  readonly end = (): void => {
    if (!this.open) return;
    this.open = false;
    this.forget();
    // A failed statement may have ended it already.
    if (this.db.inTransaction) this.statement('COMMIT').run();
  };

  /** The token read by `id` in the open transaction, or `undefined` when it has not been. */
  byId(id: string): StoredToken | null | undefined {
    const last = this.lastById;
    return last !== null && last.id === id && this.db.inTransaction ? last.found : undefined;
  }

  keepById(id: string, found: StoredToken | null): StoredToken | null {
    this.lastById = { id, found };
    return found;
  }

  /** The current token read for `nowMs` and `userId` in the open transaction, as `byId`. */
  current(nowMs: number, userId: string | undefined): StoredToken | null | undefined {
    const last = this.lastCurrent;
    return last !== null && last.nowMs === nowMs && last.userId === userId && this.db.inTransaction
      ? last.found
      : undefined;
  }

  keepCurrent(nowMs: number, userId: string | undefined, found: StoredToken | null): StoredToken | null {
    this.lastCurrent = { nowMs, userId, found };
    return found;
  }

  /** The page read for `key` in the open transaction, as `byId`. */
  page(key: string): StoredTokenPage | undefined {
    const last = this.lastPage;
    return last !== null && last.key === key && this.db.inTransaction ? last.page : undefined;
  }

  keepPage(key: string, page: StoredTokenPage): StoredTokenPage {
    this.lastPage = { key, page };
    return page;
  }

  private forget(): void {
    this.lastById = null;
    this.lastCurrent = null;
    this.lastPage = null;
  }
}
