import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface BackupResult {
  pages: number;
  bytes: number;
}

/**
 * Copies the SQLite database at `source` into a new file `target` while servers keep using
 * it, through SQLite's online backup: the copy is one consistent snapshot that includes what
 * the live `-wal` file holds, which copying the files (`tessera.db`, `-wal`, `-shm`) one by one
 * would not give. `target` must not exist; it is written with mode 0600 (it holds sealed
 * tokens and session records).
 */
export async function backupSqlite(source: string, target: string): Promise<BackupResult> {
  if (!existsSync(source)) throw new Error(`there is no database at ${source}`);
  const db = new Database(source, { fileMustExist: true, timeout: 1500 });
  // Created here, empty (an empty file is an empty SQLite database), so that it is never an
  // existing file overwritten and is 0600 from the start.
  try {
    closeSync(openSync(target, 'wx', 0o600));
  } catch (error) {
    db.close();
    const exists = error instanceof Error && 'code' in error && error.code === 'EEXIST';
    throw new Error(
      exists
        ? `${target} already exists: give a new file name`
        : `cannot create the copy: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  let done = false;
  try {
    // All remaining pages in one step: a step holds a read snapshot (which in WAL mode never
    // blocks a writer), while copying in small steps starts over each time another process
    // commits, and under a steady write load might never finish.
    const progress = await db.backup(target, { progress: () => 0x7fffffff });
    const copy = new Database(target, { fileMustExist: true });
    try {
      // The copy inherits WAL mode from its source; in rollback mode it stays one file, with
      // no -wal or -shm beside it (a server opening it switches it back to WAL).
      copy.pragma('journal_mode = DELETE');
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy at ${target} does not check out: ${String(check)}`);
      const pageSize = copy.pragma('page_size', { simple: true }) as number;
      done = true;
      return { pages: progress.totalPages, bytes: progress.totalPages * pageSize };
    } finally {
      copy.close();
    }
  } finally {
    db.close();
    // No half-made copy left behind to be mistaken for a backup.
    if (!done) rmSync(target, { force: true });
  }
}
