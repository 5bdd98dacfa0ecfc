import { existsSync, renameSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/open.js';
import {
  Checkpointer,
  checkpointLater,
  IN_THREAD_CHECKPOINT_PAGES,
} from '../src/store/sqlite/checkpointer.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { newToken } from './store-contract/support.js';
import { withTempDatabase } from './support/temp-database.js';
import { waitUntil } from './support/wait.js';

/** A WAL-mode connection as the store opens it, and the host that records what it is told. */
function openWal(path: string) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS filler (n INTEGER PRIMARY KEY, text TEXT NOT NULL)');
  const told: number[] = [];
  const failures: string[] = [];
  const host = {
    setAutoCheckpoint(pages: number) {
      told.push(pages);
      db.pragma(`wal_autocheckpoint = ${pages}`);
    },
    failed(reason: string) {
      failures.push(reason);
    },
  };
  return { db, told, failures, host, path };
}

/**
 * A WAL-mode connection with a checkpointer on `checkpointPath` (its own file unless given)
 * checkpointing every `everyMs`, for `run`; both are closed afterwards, the checkpointer first.
 */
async function withCheckpointer(
  everyMs: number,
  run: (opened: ReturnType<typeof openWal>) => Promise<void>,
  checkpointPath?: (path: string) => string,
  restart?: { afterPages: number; pauseMs?: number },
): Promise<void> {
  await withTempDatabase(async (path) => {
    const opened = openWal(path);
    const checkpointer = new Checkpointer(checkpointPath?.(path) ?? path, opened.host, everyMs, restart);
    try {
      await run(opened);
    } finally {
      await checkpointer.stop();
      opened.db.close();
    }
  }, 'checkpointer');
}

/** Commits about `pages` pages of 4 KiB to the log, one page per transaction. */
function fill(db: Database.Database, pages: number): void {
  const insert = db.prepare('INSERT INTO filler (text) VALUES (?)');
  for (let i = 0; i < pages; i++) insert.run('x'.repeat(3500));
}

/** A WAL frame: a 4 KiB page and its 24-byte header. */
const FRAME_BYTES = 4096 + 24;

/**
 * Writes as a busy server does, one transaction a turn (after 50 us of the turn's other work)
 * and never a pause, `commits` of them, and resolves to the longest the log file grew
 * meanwhile, in frames.
 */
async function writeWithoutPause(db: Database.Database, path: string, commits: number): Promise<number> {
  const insert = db.prepare('INSERT INTO filler (text) VALUES (?)');
  let longest = 0;
  for (let i = 0; i < commits; i++) {
    const workUntil = performance.now() + 0.05;
    while (performance.now() < workUntil);
    insert.run('x'.repeat(3500));
    if (i % 100 === 0) longest = Math.max(longest, statSync(`${path}-wal`).size / FRAME_BYTES);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return Math.max(longest, statSync(`${path}-wal`).size / FRAME_BYTES);
}

describe('SQLite checkpointer (a worker thread)', () => {
  it('takes checkpoints off the connection it serves: the log is copied into the file by the worker alone', async () => {
    let databasePath = '';
    await withCheckpointer(20, async ({ db, told, path }) => {
      databasePath = path;
      await waitUntil('the worker to be ready', () => told.includes(0));
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      const before = statSync(path).size;
      // Past SQLite's 1,000-page threshold: with checkpoints on commit the file would grow
      // inside this loop; here it grows only once the worker copies the pages in.
      fill(db, 1200);
      await waitUntil('the log copied into the file', () => statSync(path).size >= before + 1000 * 4096, {
        timeoutMs: 10_000,
      });
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(1000 * 4096);
      // Everything written is in the file and readable by a fresh connection.
      const reader = new Database(path, { readonly: true });
      expect(reader.prepare('SELECT count(*) FROM filler').pluck().get()).toBe(1200);
      reader.close();
      // The store's connection is closed last: it checkpoints the rest and removes the log.
    });
    expect(existsSync(`${databasePath}-wal`)).toBe(false);
  });

  it('does not move data_version for the connection it serves (the change feed would wake for nothing)', async () => {
    await withCheckpointer(10, async ({ db, told, path }) => {
      await waitUntil('the worker to be ready', () => told.includes(0));
      fill(db, 50);
      const version = db.pragma('data_version', { simple: true });
      const before = statSync(path).size;
      await waitUntil('a checkpoint', () => statSync(path).size > before);
      fill(db, 5);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(db.pragma('data_version', { simple: true })).toBe(version);
    });
  });

  it('restarts a long log under writes that never pause', async () => {
    const commits = 10_000;
    // Without restarts no checkpoint catches up with the last commit while the writer keeps
    // its pace, so SQLite never starts the log over: on a quiet machine this loop left about
    // 30,000 frames in it (three a commit). (On cores busy enough to stall the writer, a
    // checkpoint may catch up, and it starts over by itself.) With them, the log starts over
    // once it is 256 pages long, soon after: 1,000 and 2,164 frames at most, quiet. A restart
    // that a busy test run keeps from finishing is tried again 10 ms later here (a second in
    // the server), so that the bound, not the pause, is what the test sees.
    await withCheckpointer(
      5,
      async ({ db, told, path }) => {
        await waitUntil('the worker to be ready', () => told.includes(0));
        expect(await writeWithoutPause(db, path, commits)).toBeLessThan(commits / 2);
        // Nothing was lost on the way.
        const reader = new Database(path, { readonly: true });
        expect(reader.prepare('SELECT count(*) FROM filler').pluck().get()).toBe(commits);
        reader.close();
      },
      undefined,
      { afterPages: 256, pauseMs: 10 },
    );
  }, 60_000);

  it('leaves checkpoints on commit when its worker cannot open the database', async () => {
    await withCheckpointer(
      10,
      async ({ db, told, failures }) => {
        // Told twice, by the worker's error and by its exit: it has ended before stop() is
        // called, which must not wait for an exit that has already happened.
        await waitUntil('the worker to fail and end', () => told.length === 2);
        expect(told).toEqual([IN_THREAD_CHECKPOINT_PAGES, IN_THREAD_CHECKPOINT_PAGES]);
        expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(IN_THREAD_CHECKPOINT_PAGES);
        // Why, once (the exit that follows the error is not a second failure).
        expect(failures).toEqual([
          'its worker failed: could not open the database: unable to open database file',
        ]);
      },
      (path) => `${path}.missing`,
    );
  });

  it('a store opened as the server opens it tells why its checkpointer stopped (the server logs it)', async () => {
    await withTempDatabase(async (path) => {
      const failures: string[] = [];
      const store = await openStore(
        { kind: 'sqlite', path },
        { retentionDays: 30, onCheckpointerFailure: (reason) => failures.push(reason) },
      );
      try {
        await store.migrate();
        // Well before the worker starts, a second after the opening: it opens the file by its
        // name, which is gone by then; the store's connection is not.
        renameSync(path, `${path}.moved`);
        await waitUntil('the failure to be told', () => failures.length > 0);
        expect(failures).toEqual([
          'its worker failed: could not open the database: unable to open database file',
        ]);
        // The store goes on serving on its own connection.
        await store.insertStoredToken(newToken('store_after_failure'));
        expect(await store.findStoredToken('store_after_failure')).not.toBeNull();
      } finally {
        await store.close();
      }
    }, 'checkpointer');
  });

  it('a stopped checkpointer tells of no failure', async () => {
    await withTempDatabase(async (path) => {
      const { db, told, failures, host } = openWal(path);
      try {
        const checkpointer = new Checkpointer(path, host, 10);
        await waitUntil('the worker to be ready', () => told.includes(0));
        await checkpointer.stop();
        expect(failures).toEqual([]);
      } finally {
        db.close();
      }
    }, 'checkpointer');
  });

  it('started later: none when stopped before its time (a short CLI command), one after', async () => {
    await withTempDatabase(async (path) => {
      const { db, told, host } = openWal(path);
      try {
        const early = checkpointLater(path, host, 100);
        await early.stop();
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(told).toEqual([]);
        const later = checkpointLater(path, host, 100);
        try {
          await waitUntil('the worker to be ready', () => told.includes(0));
          expect(told).toEqual([0]);
        } finally {
          await later.stop();
        }
      } finally {
        db.close();
      }
    }, 'checkpointer');
  });

  it('a store on a file: its writes reach the file while it serves, and it closes leaving no log', async () => {
    await withTempDatabase(async (path) => {
      const store = new SqliteStore(path, { checkpointerAfterMs: 0 });
      await store.migrate();
      const sizes: number[] = [];
      for (let round = 0; round < 6; round++) {
        for (let i = 0; i < 400; i++)
          await store.insertStoredToken(newToken(`store_${round}_${i}`, { userId: `usr_${round}_${i}` }));
        await new Promise((resolve) => setTimeout(resolve, 300));
        sizes.push(statSync(path).size);
      }
      // The database file grows as the worker copies the log in, while the store keeps writing.
      expect(sizes.at(-1)).toBeGreaterThan(sizes[0] as number);
      await store.close();
      expect(existsSync(`${path}-wal`)).toBe(false);
      const reader = new Database(path, { readonly: true });
      expect(reader.prepare('SELECT count(*) FROM stored_tokens').pluck().get()).toBe(2400);
      reader.close();
    }, 'checkpointer');
  });
});
