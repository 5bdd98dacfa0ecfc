/** The most items written in one batch. */
const MAX_BATCH = 200;

/**
 * Group commit: items handed over in one event-loop turn, or while a write is under way, go
 * together in the next write, and one write runs at a time. Each caller still waits for its
 * own item; a busy server writes one batch, not one item, at a time, and on a database whose
 * commit waits for the disk, each batch waits for it once.
 */
export class GroupWrites<T> {
  private pending: { item: T; resolve(): void; reject(error: unknown): void }[] = [];
  private writing = false;

  constructor(private readonly write: (items: T[]) => Promise<void>) {}

  /** Resolves once `item` is written; rejects with its batch's failure. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      // After this turn's I/O callbacks: the items of the turn's requests share one write.
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.writeBatches());
      }
    });
  }

  /** Writes what is pending, batch after batch, until nothing is left; never throws. */
  private async writeBatches(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_BATCH);
        try {
          await this.write(batch.map(({ item }) => item));
          for (const { resolve } of batch) resolve();
        } catch (error) {
          for (const { reject } of batch) reject(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
