import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the checkpointer copies the write-ahead log's new pages into the database file. */
export const CHECKPOINT_EVERY_MS = 250;
/** SQLite's own default: a commit that leaves the log this many pages long checkpoints it. */
export const IN_THREAD_CHECKPOINT_PAGES = 1000;

/**
 * The checkpointer's program, run in a worker thread: a second connection to the database
 * file that runs a PASSIVE checkpoint every `everyMs` (one with nothing new to copy does
 * nothing). PASSIVE never waits for a lock and never stops a reader or a writer. It says
 * `ready` once its connection is open; told `close`, it closes it and ends.
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
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

  constructor(path: string, host: CheckpointHost, everyMs = CHECKPOINT_EVERY_MS) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(PROGRAM, { eval: true, workerData: { driver, path, everyMs } });
    // It must not keep an otherwise finished process alive.
    this.worker.unref();
    const fallBack = () => {
      if (!this.stopped) host.setAutoCheckpoint(IN_THREAD_CHECKPOINT_PAGES);
    };
    this.worker.on('message', (message: unknown) => {
      if (message === 'ready' && !this.stopped) host.setAutoCheckpoint(0);
      else if (typeof message === 'object' && message !== null && 'failed' in message) fallBack();
    });
    this.worker.on('error', fallBack);
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', () => {
        fallBack();
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
    } catch {
      // No worker (a thread could not be made): commits go on checkpointing as by default.
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
