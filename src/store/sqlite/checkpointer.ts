import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the checkpointer copies the write-ahead log's new pages into the database file. */
export const CHECKPOINT_EVERY_MS = 250;
/** SQLite's own default: a commit that leaves the log this many pages long checkpoints it. */
export const IN_THREAD_CHECKPOINT_PAGES = 1000;
/**
 * A log this many pages long after a checkpoint is restarted from its beginning (16,384 pages:
 * 64 MiB). Under writes that never pause, a PASSIVE checkpoint never catches up with the last
 * commit, and SQLite starts the log over only when one has: the log grew by 650 MiB in 15 s of
 * `POST /` and 394 MiB in 15 s of reads by id (each commits its audit entry).
 */
export const RESTART_AFTER_PAGES = 16384;
/**
 * A log that grew longer than this (while a long reader held the restart off) is cut back to
 * it by the first commit after the restart (the store's `journal_size_limit`).
 */
export const LOG_SIZE_LIMIT_BYTES = 128 * 1024 * 1024;
/** How long a restart waits for the store's writer and readers before it gives up for now. */
export const RESTART_WAIT_MS = 50;
/**
 * After a restart that could not finish in time (the writer kept the lock, or a long reader
 * such as a backup held the log), none is tried for this long: a reader that stays keeps
 * writers waiting at most RESTART_WAIT_MS a second.
 */
export const RESTART_PAUSE_MS = 1000;

/**
 * The checkpointer's program, run in a worker thread: a second connection to the database
 * file that runs a PASSIVE checkpoint every `everyMs` (one with nothing new to copy does
 * nothing). PASSIVE never waits for a lock and never stops a reader or a writer. When the log
 * is `restartAfterPages` long or more, a RESTART checkpoint follows: it holds writers back
 * while it copies what is left and waits for the readers to leave the log (at most `waitMs`,
 * the connection's busy timeout), so that the next commit writes the log from its beginning.
 * One that cannot finish in time is not tried again for `pauseMs`. It says `ready` once its
 * connection is open; told `close`, it closes it and ends.
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
try {
  db = new Database(workerData.path, { fileMustExist: true, timeout: workerData.waitMs });
} catch (error) {
  // As a plain Error: SQLite's own reaches the parent thread without its message.
  throw new Error('could not open the database: ' + String(error && error.message));
}
let restartAfter = 0;
const checkpoint = () => {
  try {
    const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
    if (passive.log < workerData.restartAfterPages || Date.now() < restartAfter) return;
    const [restart] = db.pragma('wal_checkpoint(RESTART)');
    if (restart.busy !== 0) restartAfter = Date.now() + workerData.pauseMs;
  } catch (error) {
    parentPort.postMessage({ failed: String(error && error.message) });
  }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
parentPort.postMessage('ready');
`;

/** What the store's own connection does about checkpoints, told by the checkpointer. */
export interface CheckpointHost {
  /** Pages after which a commit checkpoints on the committing thread (0: never). */
  setAutoCheckpoint(pages: number): void;
  /**
   * Told once, the first time the checkpointer fails (a checkpoint throws, its worker cannot
   * start or ends unasked), with why: commits checkpoint on their own thread from then on.
   */
  failed?: ((reason: string) => void) | undefined;
}

/**
 * Keeps checkpoints off the Node thread. In WAL mode SQLite's default is that the commit which
 * grows the log past 1,000 pages copies them into the database file and syncs both, on the
 * committing thread: under a steady write load (each read of a stored token commits an audit
 * entry) the event loop stood still for about 20 ms every few hundred commits, nearly half
 * of the writer's wall time in a micro-benchmark of audit batches. Here a worker thread
 * checkpoints instead, and the store's connection checkpoints on commit only until the worker
 * is ready, and again if it fails: the log stays bounded either way. Durability is unchanged
 * (a commit is in the log before it returns; the log is synced at checkpoints).
 */
export class Checkpointer {
  private readonly worker: Worker;
  /** Settles when the worker's thread has ended, however it ended. */
  private readonly exited: Promise<void>;
  private stopped = false;

  constructor(
    path: string,
    host: CheckpointHost,
    everyMs = CHECKPOINT_EVERY_MS,
    restart: { afterPages?: number; pauseMs?: number } = {},
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const workerData = {
      driver,
      path,
      everyMs,
      restartAfterPages: restart.afterPages ?? RESTART_AFTER_PAGES,
      waitMs: RESTART_WAIT_MS,
      pauseMs: restart.pauseMs ?? RESTART_PAUSE_MS,
    };
    this.worker = new Worker(PROGRAM, { eval: true, workerData });
    // It must not keep an otherwise finished process alive.
    this.worker.unref();
    let reported = false;
    const fallBack = (reason: string) => {
      if (this.stopped) return;
      host.setAutoCheckpoint(IN_THREAD_CHECKPOINT_PAGES);
      if (reported) return;
      reported = true;
      host.failed?.(reason);
    };
    this.worker.on('message', (message: unknown) => {
      if (message === 'ready' && !this.stopped) host.setAutoCheckpoint(0);
      else if (typeof message === 'object' && message !== null && 'failed' in message)
        fallBack(`a checkpoint failed: ${String(message.failed)}`);
    });
    this.worker.on('error', (error: unknown) => fallBack(`its worker failed: ${describe(error)}`));
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        fallBack(`its worker ended (exit code ${code})`);
        resolve();
      });
    });
  }

  /** Closes the worker's connection (before the store's, which then checkpoints what is left). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // A worker that already ended (it could not open the file) hears nothing and is not waited for.
    this.worker.postMessage('close');
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * A checkpointer started `afterMs` from now; stopped before then, none is started. A worker
 * that cannot be made leaves SQLite's default checkpoints. The timer holds no process open.
 */
export function checkpointLater(
  path: string,
  host: CheckpointHost,
  afterMs: number,
): { stop(): Promise<void> } {
  let started: Checkpointer | null = null;
  const timer = setTimeout(() => {
    try {
      started = new Checkpointer(path, host);
    } catch (error) {
      // No worker (a thread could not be made): commits go on checkpointing as by default.
      host.failed?.(`no worker thread: ${describe(error)}`);
    }
  }, afterMs);
  timer.unref();
  return {
    async stop() {
      clearTimeout(timer);
      await started?.stop();
    },
  };
}

/** An error's message; what a thread hands over may be a plain object (SQLite's: only `code`). */
function describe(error: unknown): string {
  if (error instanceof Error && error.message !== '') return error.message;
  if (typeof error === 'object' && error !== null && 'code' in error) return String(error.code);
  return String(error);
}
